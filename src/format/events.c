/* events.c - the event and record tables, expanded from events.def. */
#include "format.h"

#include <stddef.h>

const struct ct_event_info ct_event_table[CT_MAX_KINDS] = {
#define X(id, NAME, name, timed, args, names) [id] = {id, timed, name, args, names},
#include "events.def"
#undef X
};

const char *ct_record_name(unsigned type)
{
    switch (type) {
#define X(id, NAME, name) case id: return name;
        CT_RECORDS(X)
#undef X
    }
    return "unknown";
}

const char *ct_reason_name(unsigned reason)
{
    switch (reason) {
#define R(id, NAME, name, group) case id: return name;
#include "reasons.def"
#undef R
    }
    return NULL;
}

const char *ct_reason_group(unsigned reason)
{
    switch (reason) {
#define R(id, NAME, name, group) case id: return group;
#include "reasons.def"
#undef R
    }
    return NULL;
}

const char *ct_fd_class_name(unsigned fd_class)
{
    switch (fd_class) {
#define C(id, NAME, name) case id: return name;
#include "reasons.def"
#undef C
    }
    return NULL;
}

const char *ct_counter_name(unsigned counter)
{
    switch (counter) {
#define K(id, NAME, name, unit) case id: return name;
#include "reasons.def"
#undef K
    }
    return NULL;
}

const char *ct_cpu_state_name(unsigned state)
{
    switch (state) {
#define S(id, NAME, name) case id: return name;
#include "reasons.def"
#undef S
    }
    return NULL;
}

const char *ct_syscall_name(unsigned sysno)
{
    switch (sysno) {
#define Y(nr, name, group) case nr: return name;
#include "syscalls.def"
#undef Y
    }
    return NULL;
}

const char *ct_syscall_group(unsigned sysno)
{
    switch (sysno) {
#define Y(nr, name, group) case nr: return group;
#include "syscalls.def"
#undef Y
    }
    return NULL;
}
