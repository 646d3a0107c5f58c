/* vmsim public types: domain integers, error codes, limits.
 *
 * Every domain integer has its own typedef so that a signature says what it
 * takes: a virtual address is not a frame number. Errors are negative ints from
 * one list (vmsim_strerror names them); simulated events such as TLB misses
 * and page faults are never errors, they are counted in the statistics. */
#ifndef VMSIM_TYPES_H
#define VMSIM_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t vmsim_vaddr_t; /* virtual address, in bytes */
typedef uint64_t vmsim_paddr_t; /* simulated physical address, in bytes */
typedef uint64_t vmsim_pfn_t;   /* simulated physical frame number (base pages) */
typedef uint64_t vmsim_vpn_t;   /* virtual page number at some page size */
typedef uint16_t vmsim_asid_t;  /* address-space id (PCID), 12 bits used */
typedef uint32_t vmsim_pid_t;   /* simulated process id, as the trace names it */

enum vmsim_error {
    VMSIM_OK = 0,
    VMSIM_ENOMEM = -1,       /* the host ran out of memory */
    VMSIM_EINVAL = -2,       /* invalid argument or configuration */
    VMSIM_EPARSE = -3,       /* malformed input (trace, spec, config) */
    VMSIM_EIO = -4,          /* a host read or write failed */
    VMSIM_ENOENT = -5,       /* no such entry, file, preset or process */
    VMSIM_EEXIST = -6,       /* already exists (mapping, process) */
    VMSIM_ERANGE = -7,       /* value out of the supported range */
    VMSIM_ENOFRAME = -8,     /* simulated physical memory exhausted */
    VMSIM_EUNSUPPORTED = -9, /* valid request this build cannot serve */
    VMSIM_EINTR = -10,       /* stopped by the caller's stop flag (vmsim_set_stop) */
};

/* Name of an error code ("invalid argument", ...); never NULL. */
const char *vmsim_strerror(int err);

#define VMSIM_MAX_LEVELS 6      /* page-table levels in any geometry */
#define VMSIM_MAX_TLB_LEVELS 8  /* TLB levels in a hierarchy */
#define VMSIM_MAX_TLB_ARRAYS 4  /* arrays (page-size partitions) in one level */
#define VMSIM_MAX_CPUS 64
#define VMSIM_NAME_MAX 24
#define VMSIM_ASID_BITS 12      /* x86 PCID width; ids are recycled by generation */

#ifdef __cplusplus
}
#endif
#endif
