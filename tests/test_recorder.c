/*
 * test_recorder.c - the recorder and the reader, round trip: what the API
 * records is what the reader gives back.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The nth event of a kind on the thread tid (any thread when tid is 0). */
static const struct test_event *find_on(const struct test_trace *t, unsigned kind, size_t nth,
                                        uint64_t tid)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->events[i].kind == kind && (!tid || t->events[i].tid == tid) && nth-- == 0)
            return &t->events[i];
    return NULL;
}

static const struct test_event *find(const struct test_trace *t, unsigned kind, size_t nth)
{
    return find_on(t, kind, nth, 0);
}

static void *exit_quickly(void *arg)
{
    ctrace_log(CTRACE_NO_TASK, "thread", (const char *)arg);
    return NULL;
}

/* Every kind of event the API produces, each with its arguments. */
static void test_every_kind(void **state)
{
    (void)state;
    struct recording r;
    rec_start(&r, NULL);
    ctrace_task parent = ctrace_task_begin(CTRACE_NO_TASK, "parentType");
    ctrace_task child = ctrace_task_begin(parent, "childType");
    ctrace_region outer = ctrace_region_begin(child, "outer");
    ctrace_region inner = ctrace_region_begin(child, "inner");
    ctrace_region_end(inner);
    ctrace_region_end(outer);
    ctrace_log(child, "category", "hello, trace");
    ctrace_logf(child, "fmt", "value=%d", 42);
    ctrace_task_end(child);
    ctrace_task_end(parent);
    pthread_t th;
    pthread_create(&th, NULL, exit_quickly, "bye");
    pthread_join(th, NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);

    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    assert_true(t.complete);
    assert_int_equal(t.warning[0], 0);
    assert_int_equal(count_kind(&t, CT_EV_TASK_BEGIN), 2);
    assert_int_equal(count_kind(&t, CT_EV_TASK_END), 2);
    assert_int_equal(count_kind(&t, CT_EV_REGION_BEGIN), 2);
    assert_int_equal(count_kind(&t, CT_EV_REGION_END), 2);
    assert_int_equal(count_kind(&t, CT_EV_REGION_END_AT), 0);
    assert_int_equal(count_kind(&t, CT_EV_LOG), 3);
    assert_int_equal(count_kind(&t, CT_EV_THREAD_EXIT), 1);
    assert_true(count_kind(&t, CT_EV_STRING) >= 7);
    assert_true(count_kind(&t, CT_EV_STACK) >= 1);
    assert_int_equal(t.lost, 0);

    const struct test_event *p = find(&t, CT_EV_TASK_BEGIN, 0);
    const struct test_event *c = find(&t, CT_EV_TASK_BEGIN, 1);
    assert_int_equal(p->args[0], parent.id);
    assert_int_equal(p->args[1], 0);
    assert_string_equal(p->str, "parentType");
    assert_int_equal(c->args[0], child.id);
    assert_int_equal(c->args[1], parent.id);
    assert_string_equal(c->str, "childType");
    assert_true(p->stack != 0 && p->nframes >= 1);
    assert_int_equal(find(&t, CT_EV_TASK_END, 0)->args[0], child.id);
    assert_int_equal(find(&t, CT_EV_TASK_END, 1)->args[0], parent.id);
    assert_string_equal(find(&t, CT_EV_REGION_BEGIN, 0)->str, "outer");
    assert_int_equal(find(&t, CT_EV_REGION_BEGIN, 0)->args[0], child.id);
    assert_string_equal(find(&t, CT_EV_REGION_END, 0)->str, "inner");
    assert_string_equal(find(&t, CT_EV_REGION_END, 1)->str, "outer");
    uint64_t me = p->tid;
    const struct test_event *log = find_on(&t, CT_EV_LOG, 0, me);
    assert_string_equal(log->str, "category");
    assert_string_equal(log->text, "hello, trace");
    assert_int_equal(log->args[0], child.id);
    assert_string_equal(find_on(&t, CT_EV_LOG, 1, me)->text, "value=42");
    assert_string_equal(find_on(&t, CT_EV_LOG, 1, me)->str, "fmt");
    const struct test_event *other = find(&t, CT_EV_THREAD_EXIT, 0);
    assert_int_not_equal(other->tid, me);
    assert_string_equal(find_on(&t, CT_EV_LOG, 0, other->tid)->text, "bye");
    assert_string_equal(find_on(&t, CT_EV_LOG, 0, other->tid)->str, "thread");
    /* One thread's own timestamps never go back (its context switches, the
     * schedstat samples beside them and the calls the writer saw under way
     * come in a batch of their own, written at the generation's end). */
    int64_t last = 0;
    for (size_t i = 0; i < t.count; i++) {
        unsigned kind = t.events[i].kind;
        if (t.events[i].tid != p->tid || kind <= CT_EV_STACK || kind == CT_EV_CPU ||
            kind == CT_EV_SCHED_SAMPLE || kind == CT_EV_CALL)
            continue;
        assert_true(t.events[i].ts_ns >= last);
        last = t.events[i].ts_ns;
    }
    free_trace(&t);
    free(data);
}

/* A region ended before one begun after it is recorded, not lost. */
static void test_out_of_order_region(void **state)
{
    (void)state;
    struct recording r;
    rec_start(&r, NULL);
    ctrace_region a = ctrace_region_begin(CTRACE_NO_TASK, "a");
    ctrace_region b = ctrace_region_begin(CTRACE_NO_TASK, "b");
    ctrace_region_end(a);
    ctrace_region_end(b);
    ctrace_region_end(CTRACE_NO_REGION); /* never begun: ignored */
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    assert_int_equal(count_kind(&t, CT_EV_REGION_BEGIN), 2);
    const struct test_event *e = find(&t, CT_EV_REGION_END_AT, 0);
    assert_non_null(e);
    assert_string_equal(e->str, "a");
    assert_int_equal(e->args[1], 1); /* depth of a */
    assert_int_equal(count_kind(&t, CT_EV_REGION_END_AT) + count_kind(&t, CT_EV_REGION_END), 2);
    free_trace(&t);
    free(data);
}

/* A region, a task and a stack that outlive a generation: the later
 * generation defines again what its events use, and reads alone. */
static void test_region_spans_generations(void **state)
{
    (void)state;
    ctrace_config config = {.generation_ns = 1000000};
    struct recording r;
    rec_start(&r, &config);
    ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "long");
    ctrace_region region = ctrace_region_begin(task, "spanning");
    usleep(200000); /* the writer wakes every 10 ms: at least two ends */
    ctrace_region_end(region);
    ctrace_task_end(task);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    int rc = read_trace(data, size, &t);
    if (rc != 0)
        fail_msg("%s", t.error);
    assert_true(t.generations >= 2);
    assert_string_equal(find(&t, CT_EV_REGION_END, 0)->str, "spanning");
    assert_true(find(&t, CT_EV_REGION_END, 0)->ts_ns - find(&t, CT_EV_REGION_BEGIN, 0)->ts_ns >=
                199000000);
    free_trace(&t);
    free(data);
}

static void test_scoped_region(void **state)
{
    (void)state;
    struct recording r;
    rec_start(&r, NULL);
    {
        CTRACE_REGION(CTRACE_NO_TASK, "scoped");
        ctrace_log(CTRACE_NO_TASK, "in", "inside");
    }
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    const struct test_event *b = find(&t, CT_EV_REGION_BEGIN, 0);
    const struct test_event *l = find(&t, CT_EV_LOG, 0);
    const struct test_event *e = find(&t, CT_EV_REGION_END, 0);
    assert_non_null(b);
    assert_non_null(e);
    assert_true(b < l && l < e);
    assert_string_equal(e->str, "scoped");
    free_trace(&t);
    free(data);
}

static void test_long_message_is_cut(void **state)
{
    (void)state;
    char *big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = 0;
    struct recording r;
    rec_start(&r, NULL);
    ctrace_log(CTRACE_NO_TASK, "big", big);
    ctrace_logf(CTRACE_NO_TASK, "big", "%s", big);
    ctrace_log(CTRACE_NO_TASK, NULL, NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    assert_int_equal(find(&t, CT_EV_LOG, 0)->text_len, CTRACE_MAX_MESSAGE);
    assert_int_equal(find(&t, CT_EV_LOG, 1)->text_len, CTRACE_MAX_MESSAGE);
    assert_string_equal(find(&t, CT_EV_LOG, 2)->str, "(null)");
    assert_string_equal(find(&t, CT_EV_LOG, 2)->text, "");
    free_trace(&t);
    free(data);
    free(big);
}

static void test_stacks_switch(void **state)
{
    (void)state;
    ctrace_config config = {.stacks = -1};
    struct recording r;
    rec_start(&r, &config);
    ctrace_log(CTRACE_NO_TASK, "c", "no stack");
    ctrace_set_stacks(true);
    ctrace_log(CTRACE_NO_TASK, "c", "stack");
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    assert_int_equal(find(&t, CT_EV_LOG, 0)->stack, 0);
    assert_int_not_equal(find(&t, CT_EV_LOG, 1)->stack, 0);
    assert_true(find(&t, CT_EV_LOG, 1)->nframes >= 1);
    free_trace(&t);
    free(data);
}

struct handoff {
    ctrace_task task;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready;
};

static void *end_task_elsewhere(void *arg)
{
    struct handoff *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->ready)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
    ctrace_task_end(h->task);
    return NULL;
}

static void test_task_across_threads(void **state)
{
    (void)state;
    struct handoff h = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct recording r;
    rec_start(&r, NULL);
    pthread_t th;
    pthread_create(&th, NULL, end_task_elsewhere, &h);
    h.task = ctrace_task_begin(CTRACE_NO_TASK, "handoff");
    pthread_mutex_lock(&h.lock);
    h.ready = 1;
    pthread_cond_signal(&h.cond);
    pthread_mutex_unlock(&h.lock);
    pthread_join(th, NULL);
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    const struct test_event *b = find(&t, CT_EV_TASK_BEGIN, 0);
    const struct test_event *e = find(&t, CT_EV_TASK_END, 0);
    assert_non_null(b);
    assert_non_null(e);
    assert_int_equal(b->args[0], h.task.id);
    assert_int_equal(e->args[0], h.task.id);
    assert_int_not_equal(b->tid, e->tid);
    assert_true(e->ts_ns >= b->ts_ns);
    free_trace(&t);
    free(data);
}

static void test_start_stop_start(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        struct recording r;
        rec_start(&r, NULL);
        for (int i = 0; i <= round; i++)
            ctrace_log(CTRACE_NO_TASK, "round", "event");
        size_t size;
        uint8_t *data = rec_stop(&r, &size);
        struct test_trace t;
        assert_int_equal(read_trace(data, size, &t), 0);
        assert_true(t.complete);
        assert_int_equal(count_kind(&t, CT_EV_LOG), round + 1);
        free_trace(&t);
        free(data);
    }
}

static void test_errors_and_off(void **state)
{
    (void)state;
    assert_false(ctrace_enabled());
    /* Off: nothing happens, values are the empty ones. */
    ctrace_task task = ctrace_task_begin(CTRACE_NO_TASK, "off");
    assert_int_equal(task.id, 0);
    ctrace_region region = ctrace_region_begin(task, "off");
    assert_int_equal(region.depth, 0);
    ctrace_region_end(region);
    ctrace_stop(); /* stop while off: nothing */
    assert_int_equal(ctrace_start(-1), -EBADF);
    int rd = open("/dev/null", O_RDONLY);
    assert_int_equal(ctrace_start(rd), -EBADF);
    close(rd);
    ctrace_config bad = {.buffer_bytes = 1000};
    assert_int_equal(ctrace_start_config(1, &bad), -EINVAL);
    ctrace_config deep = {.max_stack_depth = 1000};
    assert_int_equal(ctrace_start_config(1, &deep), -EINVAL);
    struct recording r;
    rec_start(&r, NULL);
    assert_true(ctrace_enabled());
    assert_int_equal(ctrace_start(r.fd), -EBUSY);
    size_t size;
    free(rec_stop(&r, &size));
    assert_string_equal(ctrace_strerror(-EBUSY), "tracing is already on");
}

/* A forked child starts with tracing off and can trace into its own file;
 * the parent's trace goes on, and holds only the parent's events. */
static void test_fork(void **state)
{
    (void)state;
    /* A child of a multi-threaded process may allocate because glibc's
     * malloc takes its locks across fork; the sanitizers' allocators do
     * not, and the child can hang on a lock the writer held. */
    if (getenv("CTRACE_TEST_SANITIZER"))
        skip();
    struct recording r;
    rec_start(&r, NULL);
    ctrace_log(CTRACE_NO_TASK, "parent", "before fork");
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    if (child == 0) {
        int ok = !ctrace_enabled();
        ctrace_log(CTRACE_NO_TASK, "child", "ignored: tracing is off");
        int fd = memfd_create("child", 0);
        ok = ok && ctrace_start(fd) == 0;
        ctrace_log(CTRACE_NO_TASK, "child", "traced");
        ctrace_stop();
        struct stat st;
        fstat(fd, &st);
        uint8_t *data = malloc((size_t)st.st_size);
        ok = ok && pread(fd, data, (size_t)st.st_size, 0) == st.st_size;
        struct test_trace t;
        ok = ok && read_trace(data, (size_t)st.st_size, &t) == 0;
        ok = ok && count_kind(&t, CT_EV_LOG) == 1;
        char verdict = ok ? 'y' : 'n';
        ssize_t n = write(pipefd[1], &verdict, 1);
        _exit(n == 1 ? 0 : 1);
    }
    close(pipefd[1]); /* a child that dies gives end-of-file, not a hang */
    char verdict = 0;
    assert_int_equal(read(pipefd[0], &verdict, 1), 1);
    assert_int_equal(verdict, 'y');
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ctrace_log(CTRACE_NO_TASK, "parent", "after fork");
    size_t size;
    uint8_t *data = rec_stop(&r, &size);
    struct test_trace t;
    assert_int_equal(read_trace(data, size, &t), 0);
    assert_int_equal(count_kind(&t, CT_EV_LOG), 2);
    free_trace(&t);
    free(data);
    close(pipefd[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_out_of_order_region),
        cmocka_unit_test(test_region_spans_generations),
        cmocka_unit_test(test_scoped_region),
        cmocka_unit_test(test_long_message_is_cut),
        cmocka_unit_test(test_stacks_switch),
        cmocka_unit_test(test_task_across_threads),
        cmocka_unit_test(test_start_stop_start),
        cmocka_unit_test(test_errors_and_off),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
