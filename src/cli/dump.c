/*
 * dump.c - `ctrace dump FILE`: every event, one a line, in file order, with
 * the generations' tables as comment lines. For people and for tests.
 *
 *   TIME_NS TID KIND name=value ...
 *
 * TIME_NS counts from the session's start; definitions, which have no time,
 * show "-". Strings are resolved and quoted, stacks are their ids (their
 * frames are on the "stack" definition lines).
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static void print_arg(FILE *out, const struct ct_reader *rd, const struct ct_gen *gen,
                      const struct ct_event *ev, char type, uint64_t v)
{
    switch (type) {
    case 's': {
        const struct ct_idmap_entry *e = ct_idmap_get(&gen->strings, v);
        fputc('"', out);
        if (e)
            ct_print_text(out, e->data, e->len);
        fputc('"', out);
        break;
    }
    case 'b':
        fputc('"', out);
        ct_print_text(out, ev->bytes, ev->bytes_len);
        fputc('"', out);
        break;
    case 'f': {
        uint64_t pcs[CT_MAX_FRAMES];
        int n = ct_rd_frames(ev->frames, ev->frames_end, ev->nframes, pcs,
                             CT_MAX_FRAMES);
        fputc('[', out);
        for (int i = 0; i < n; i++)
            fprintf(out, "%s0x%" PRIx64, i ? "," : "", pcs[i]);
        fputc(']', out);
        break;
    }
    case 'T':
        fprintf(out, "%" PRId64, ct_gen_ns(rd, gen, v));
        break;
    case 'i':
        fprintf(out, "%" PRId64, ct_unzigzag(v));
        break;
    default:
        fprintf(out, "%" PRIu64, v);
    }
}

/* Numbers that name something: printed by name when this reader knows it. */
static const char *named_value(const char *arg, uint64_t v)
{
    if (v > UINT32_MAX)
        return NULL;
    if (strcmp(arg, "reason") == 0 || strcmp(arg, "call") == 0)
        return ct_reason_name((unsigned)v);
    if (strcmp(arg, "class") == 0)
        return ct_fd_class_name((unsigned)v);
    if (strcmp(arg, "counter") == 0)
        return ct_counter_name((unsigned)v);
    if (strcmp(arg, "state") == 0)
        return ct_cpu_state_name((unsigned)v);
    if (strcmp(arg, "sysno") == 0)
        return v ? ct_syscall_name((unsigned)v - 1) : NULL; /* the number + 1 */
    return NULL;
}

static void print_event(FILE *out, const struct ct_reader *rd, const struct ct_gen *gen,
                        const struct ct_event *ev)
{
    const struct ct_kind *kind = &gen->kinds[ev->kind];
    if (ev->timed)
        fprintf(out, "%" PRId64, ev->ts_ns);
    else
        fputc('-', out);
    fprintf(out, " %" PRIu64 " %s", ev->tid, kind->name);
    for (unsigned i = 0; i < ev->nargs; i++) {
        char type = kind->args[i];
        if (type == 'k' && ev->stack == 0)
            continue;
        const char *arg = kind->names[i][0] ? kind->names[i] : "arg";
        const char *name = kind->known && type == 'u' ? named_value(arg, ev->args[i]) : NULL;
        fprintf(out, " %s=", arg);
        if (name)
            fputs(name, out);
        else if (kind->known && type == 'u' && strcmp(arg, "duration") == 0 && ev->timed &&
                 ev->args[i] < (uint64_t)INT64_MAX - ev->ts)
            fprintf(out, "%" PRId64, ct_gen_ns(rd, gen, ev->ts + ev->args[i]) - ev->ts_ns);
        else if (strcmp(arg, "start_fn") == 0 || strcmp(arg, "object") == 0)
            fprintf(out, "0x%" PRIx64, ev->args[i]);
        else
            print_arg(out, rd, gen, ev, type, ev->args[i]);
    }
    fputc('\n', out);
}

static void print_tables(FILE *out, const struct ct_reader *rd, const struct ct_gen *gen)
{
    fprintf(out, "# generation %" PRIu64 " at byte %" PRIu64 ": %zu batches, from %" PRId64,
            gen->number, gen->offset, gen->nbatches, ct_gen_ns(rd, gen, gen->base_units));
    if (gen->complete)
        fprintf(out, " to %" PRId64 " ns\n", ct_gen_ns(rd, gen, gen->end_units));
    else
        fprintf(out, " ns (incomplete)\n");
    if (gen->has_process) {
        const struct ct_rd_process *p = &gen->process;
        fprintf(out, "# process %" PRIu64 " on \"", p->pid);
        ct_print_text(out, p->host, p->host_len);
        fprintf(out, "\", %" PRIu64 " CPUs, clock %.3f GHz, command \"", p->ncpu,
                (double)p->clock_hz / 1e9);
        for (uint64_t i = 0; i < p->cmdline_len; i++)
            fputc(p->cmdline[i] ? p->cmdline[i] : ' ', out);
        fprintf(out, "\"%s\n", p->frame_pointers == 2 ? ", no frame pointers" : "");
    }
    if (gen->cfi_stacks)
        fprintf(out, "# %" PRIu64 " stacks unwound from .eh_frame, %" PRId64 " ns\n",
                gen->cfi_stacks, ct_gen_ns(rd, gen, gen->base_units + gen->cfi_units) -
                                     ct_gen_ns(rd, gen, gen->base_units));
    if (gen->switches)
        fprintf(out, "# %" PRIu64 " context switches\n", gen->switches);
    for (size_t i = 0; i < gen->nthreads; i++) {
        const struct ct_rd_thread *t = &gen->threads[i];
        fprintf(out, "# thread %" PRIu64 " \"", t->tid);
        ct_print_text(out, t->name, t->name_len);
        fprintf(out, "\"%s%s\n", t->flags & CT_THREAD_FLAG_EXITED ? " exited" : "",
                t->flags & CT_THREAD_FLAG_TRACER ? " tracer" : "");
    }
    for (size_t i = 0; i < gen->nmodules; i++) {
        const struct ct_rd_module *m = &gen->modules[i];
        fprintf(out, "# module 0x%" PRIx64 "-0x%" PRIx64 " \"", m->start, m->start + m->size);
        ct_print_text(out, m->path, m->path_len);
        fprintf(out, "\" build-id ");
        for (uint64_t b = 0; b < m->build_id_len; b++)
            fprintf(out, "%02x", m->build_id[b]);
        fprintf(out, " bias 0x%" PRIx64 "\n", m->bias);
    }
    for (size_t i = 0; i < gen->nlost; i++) {
        const struct ct_rd_lost *l = &gen->lost[i];
        fprintf(out, "# lost %" PRIu64 " events of thread %" PRIu64 " between %" PRId64
                     " and %" PRId64 " ns\n",
                l->count, l->tid, ct_gen_ns(rd, gen, l->first), ct_gen_ns(rd, gen, l->last));
    }
}

/* --strict: the whole file read once first, so that a damaged one prints
 * nothing but the error. 0 when it reads to its end. */
static int check_whole(const char *path)
{
    struct ct_reader rd;
    struct ct_gen gen = {0};
    int r = ct_rd_open(&rd, path) == 0 ? 1 : -1;
    while (r >= 0 && (r = ct_rd_next_gen(&rd, &gen)) == 1)
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(&rd, &it, &ev)) == 1)
                ;
        }
    ct_gen_free(&gen);
    if (rd.failed)
        ct_cli_report(&rd);
    ct_rd_close(&rd);
    return rd.failed ? -1 : 0;
}

static int run(int argc, char **argv)
{
    if (ct_cli_wants_help(&ct_cmd_dump, argc, argv))
        return CT_EXIT_OK;
    if (argc != 2 || argv[1][0] == '-')
        return ct_cli_usage_error(&ct_cmd_dump, argc < 2 ? "missing FILE" : "expected one FILE");
    if (ct_cli_strict && check_whole(argv[1]) != 0)
        return CT_EXIT_BAD_INPUT;
    struct ct_reader rd;
    if (ct_rd_open(&rd, argv[1]) != 0) {
        ct_cli_report(&rd);
        return CT_EXIT_BAD_INPUT;
    }
    FILE *out = stdout;
    fprintf(out, "# ctrace trace %s, format %u.%u\n", argv[1], rd.version_major,
            rd.version_minor);
    struct ct_gen gen = {0};
    int r;
    while ((r = ct_rd_next_gen(&rd, &gen)) == 1) {
        print_tables(out, &rd, &gen);
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(&rd, &it, &ev)) == 1)
                print_event(out, &rd, &gen, &ev);
        }
        if (r < 0)
            break;
    }
    ct_gen_free(&gen);
    fflush(out);
    ct_cli_report(&rd);
    ct_rd_close(&rd);
    return rd.failed ? CT_EXIT_BAD_INPUT : CT_EXIT_OK;
}

const struct ct_command ct_cmd_dump = {
    "dump",
    "print every event, one a line",
    "usage: ctrace dump [--strict] FILE\n"
    "\n"
    "Prints every event of the trace FILE, one a line, in file order:\n"
    "  TIME_NS TID KIND name=value ...\n"
    "TIME_NS counts nanoseconds from the start of tracing, and a syscall's\n"
    "duration is in nanoseconds too (the file holds clock units); string and stack\n"
    "definitions, which have no time, show '-'. Lines starting with '#' give each\n"
    "generation's tables: process, threads, modules and lost events.\n"
    "\n"
    "A cut or damaged FILE: what precedes the damage, then the error, exit 1;\n"
    "with --strict only the error.\n",
    run,
};
