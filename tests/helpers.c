#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void rec_start(struct recording *r, const ctrace_config *config)
{
    r->fd = memfd_create("ctrace-test", MFD_CLOEXEC);
    assert_true(r->fd >= 0);
    assert_int_equal(ctrace_start_config(r->fd, config), 0);
}

uint8_t *rec_stop(struct recording *r, size_t *size)
{
    ctrace_stop();
    struct stat st;
    assert_int_equal(fstat(r->fd, &st), 0);
    *size = (size_t)st.st_size;
    uint8_t *data = malloc(*size ? *size : 1);
    assert_non_null(data);
    assert_int_equal(pread(r->fd, data, *size, 0), (ssize_t)*size);
    close(r->fd);
    /* CT_TEST_SAVE=FILE keeps the last trace a test recorded, to look at. */
    const char *save = getenv("CT_TEST_SAVE");
    FILE *f = save ? fopen(save, "wb") : NULL;
    if (f) {
        fwrite(data, 1, *size, f);
        fclose(f);
    }
    return data;
}

static void add_event(struct test_trace *t, size_t *cap, const struct ct_gen *gen,
                      const struct ct_event *ev)
{
    if (t->count == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        t->events = realloc(t->events, *cap * sizeof *t->events);
        assert_non_null(t->events);
    }
    struct test_event *e = &t->events[t->count++];
    memset(e, 0, offsetof(struct test_event, text));
    e->text[0] = e->str[0] = 0;
    e->kind = ev->kind;
    e->tid = ev->tid;
    e->ts_ns = ev->ts_ns;
    e->nargs = ev->nargs;
    memcpy(e->args, ev->args, sizeof e->args);
    e->stack = ev->stack;
    if (ev->bytes) {
        size_t n = ev->bytes_len < sizeof e->text - 1 ? ev->bytes_len : sizeof e->text - 1;
        e->text_len = ev->bytes_len;
        memcpy(e->text, ev->bytes, n);
        e->text[n] = 0;
    }
    const struct ct_kind *kind = &gen->kinds[ev->kind];
    for (unsigned i = 0; i < ev->nargs; i++) {
        if (kind->args[i] != 's')
            continue;
        const struct ct_idmap_entry *s = ct_idmap_get(&gen->strings, ev->args[i]);
        if (s) {
            size_t n = s->len < sizeof e->str - 1 ? s->len : sizeof e->str - 1;
            memcpy(e->str, s->data, n);
            e->str[n] = 0;
        }
        break;
    }
    if (ev->stack) {
        const struct ct_idmap_entry *s = ct_idmap_get(&gen->stacks, ev->stack);
        assert_non_null(s);
        e->nframes = (unsigned)s->len;
    }
}

static int read_with(struct ct_reader *rd, bool opened, struct test_trace *out);

int read_trace(const uint8_t *data, size_t size, struct test_trace *out)
{
    struct ct_reader rd;
    memset(out, 0, sizeof *out);
    return read_with(&rd, ct_rd_open_mem(&rd, data, size, "test.out") == 0, out);
}

int read_trace_streamed(const uint8_t *data, size_t size, struct test_trace *out)
{
    memset(out, 0, sizeof *out);
    int fd = memfd_create("ctrace-test-read", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    struct ct_reader rd;
    int rc = read_with(&rd, ct_rd_open(&rd, path) == 0, out);
    ct_rd_close(&rd);
    close(fd);
    return rc;
}

static int read_with(struct ct_reader *rd, bool opened, struct test_trace *out)
{
    size_t cap = 0;
    if (!opened) {
        snprintf(out->error, sizeof out->error, "%s", rd->error);
        return -1;
    }
    struct ct_gen gen = {0};
    int r;
    out->complete = true;
    while ((r = ct_rd_next_gen(rd, &gen)) == 1) {
        out->generations++;
        out->complete &= gen.complete;
        for (size_t i = 0; i < gen.nlost; i++)
            out->lost += gen.lost[i].count;
        out->batch_lost += gen.batch_lost;
        for (size_t b = 0; b < gen.nbatches && r >= 0; b++) {
            struct ct_event_iter it;
            struct ct_event ev;
            ct_rd_events(&gen, b, &it);
            while ((r = ct_rd_next_event(rd, &it, &ev)) == 1) {
                if (ev.kind == CT_EV_LOST)
                    out->lost += ev.args[0];
                add_event(out, &cap, &gen, &ev);
            }
        }
        if (r < 0)
            break;
    }
    ct_gen_free(&gen);
    snprintf(out->warning, sizeof out->warning, "%s", rd->warning);
    if (rd->failed) {
        snprintf(out->error, sizeof out->error, "%s", rd->error);
        return -1;
    }
    return 0;
}

const char *after_path(const char *message)
{
    const char *at = strstr(message, ": byte ");
    return at ? at : message;
}

void free_trace(struct test_trace *t)
{
    free(t->events);
    memset(t, 0, sizeof *t);
}

size_t count_kind(const struct test_trace *t, unsigned kind)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += t->events[i].kind == kind;
    return n;
}
