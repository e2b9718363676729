/*
 * mapguard.h - reading a mapped file that may shrink under us. A file cut
 * shorter after it was mapped (recorded again to the same name) makes any
 * read of its lost pages raise SIGBUS, which kills the process. The guard
 * catches that fault for one mapping: it maps zero pages over the lost part
 * (the read then sees zeros, which the reader rejects as damage) and notes
 * it, so that the caller answers with an error instead of what it read.
 */
#ifndef CT_COMPAT_MAPGUARD_H
#define CT_COMPAT_MAPGUARD_H

#include <stdbool.h>
#include <stddef.h>

/* The mappings one process can guard (ctrace view over a process tree
 * guards each file's). */
#define CT_MAPGUARD_MAX 256

/* Guards [addr, addr + len) (a read-only mapping), called from one thread
 * before the mapping is read. 0, or -1 when the handler cannot be
 * installed or CT_MAPGUARD_MAX mappings are guarded already. */
int ct_mapguard_install(const void *addr, size_t len);
/* Whether a read of a guarded mapping has faulted since it was installed. */
bool ct_mapguard_tripped(void);
/* Whether a read of the guarded mapping that holds addr has faulted. */
bool ct_mapguard_tripped_at(const void *addr);

#endif
