/*
 * calibration.c - the event clock's rate for a whole session (and the
 * sessions after it): what converts durations given in nanoseconds (the
 * system call threshold) into clock units, and the rate a generation's
 * begin record carries, which a reader uses only for a generation cut
 * short (each complete generation is read with its own two clock
 * readings, format.md).
 */
#include "recorder.h"

#include "../compat/clock.h"
#include "../format/format.h"

/* ns per unit, 32.32; survives sessions. Written by the writer, read by
 * any thread (a stack walk's time, stack.c): atomic, relaxed. */
static uint64_t calibrated_q32;

uint64_t ct_units_from_ns(uint64_t ns)
{
    uint64_t q32 = __atomic_load_n(&calibrated_q32, __ATOMIC_RELAXED);
    return q32 ? (uint64_t)(((unsigned __int128)ns << 32) / q32) : ns;
}

uint64_t ct_calibration(void)
{
    return __atomic_load_n(&calibrated_q32, __ATOMIC_RELAXED);
}

bool ct_calibration_preset(uint64_t q32)
{
    /* A unit of the clock (16 cycles of the TSC, or 16 ns elsewhere) is
     * taken as 0.5 to 1000 ns: a TSC of 32 MHz to 32 GHz. */
    if (q32 < (1ull << 31) || q32 > (1000ull << 32))
        return false;
    uint64_t none = 0;
    return __atomic_compare_exchange_n(&calibrated_q32, &none, q32, false, __ATOMIC_RELAXED,
                                       __ATOMIC_RELAXED);
}

/* A reading of both clocks by `ctrace run` before it started this process
 * (ct_calibration_from); 0 when none was given. */
static struct {
    uint64_t units, mono_ns;
} given;

void ct_calibration_from(uint64_t units, uint64_t mono_ns)
{
    given.units = units;
    given.mono_ns = mono_ns;
}

/* A first estimate: 250 us between two readings of both clocks gives the
 * rate to about 0.1 %, enough for what uses it before the first generation
 * ends. The first reading is `ctrace run`'s, taken before it started the
 * program, when it gave one (no more than a minute ago): the program's exec
 * and loading fill most of the 250 us, where a spin would add them. A process
 * that a traced one started is given its parent's rate (ct_calibration_preset)
 * and waits not at all. */
uint64_t ct_calibration_start(void)
{
    uint64_t known = __atomic_load_n(&calibrated_q32, __ATOMIC_RELAXED);
    if (known)
        return known;
    struct ct_clock_pair a = ct_clock_pair_now(), b;
    if (given.mono_ns && given.mono_ns < a.mono_ns && a.mono_ns - given.mono_ns < 60000000000u &&
        given.units < a.units) {
        a.units = given.units;
        a.mono_ns = given.mono_ns;
    }
    do
        b = ct_clock_pair_now();
    while (b.mono_ns - a.mono_ns < 250000);
    uint64_t q32 = ct_gen_rate(a.units, a.mono_ns, b.units, b.mono_ns, 0);
    __atomic_store_n(&calibrated_q32, q32, __ATOMIC_RELAXED);
    return q32;
}

void ct_calibration_update(struct ct_clock_pair session_start, struct ct_clock_pair now)
{
    uint64_t q32 = ct_gen_rate(session_start.units, session_start.mono_ns, now.units, now.mono_ns, 0);
    if (q32 && now.mono_ns - session_start.mono_ns >= 50000000u)
        __atomic_store_n(&calibrated_q32, q32, __ATOMIC_RELAXED);
}
