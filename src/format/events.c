/* events.c - the event and record tables, expanded from events.def. */
#include "format.h"

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
