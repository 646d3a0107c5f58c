/* vmsim events: what a workload source produces and the machine consumes.
 *
 * Sources (trace readers, synthetic generators) fill arrays of vmsim_event;
 * the machine consumes them in batches. Sources know nothing of the machine.
 * The struct is 32 bytes so a batch of 4096 fits in 128 KiB. */
#ifndef VMSIM_EVENT_H
#define VMSIM_EVENT_H

#include "vmsim/types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMSIM_MAX_VMS 256 /* VM ids 1 .. 255 (nested paging) */

enum vmsim_event_type {
    VMSIM_EV_ACCESS = 0,   /* pid touches [addr, addr+len) with kind */
    VMSIM_EV_SPAWN = 1,    /* a new process pid with an empty address space; file = the
                              VM it runs in (2..255; 0: VM 1) under nested paging */
    VMSIM_EV_EXIT = 2,     /* process pid exits; its memory is freed */
    VMSIM_EV_MMAP = 3,     /* map [addr, addr+len) in pid, kind = VMSIM_PROT_* */
    VMSIM_EV_MUNMAP = 4,   /* unmap [addr, addr+len) in pid */
    VMSIM_EV_MPROTECT = 5, /* change protection of [addr, addr+len), kind = prot */
    VMSIM_EV_SWITCH = 6,   /* cpu starts running pid (context switch) */
    VMSIM_EV_FORK = 7,     /* pid forks; addr = the child's pid (a new process) */
    VMSIM_EV_MADVISE = 8,  /* advise [addr, addr+len) of pid; kind = VMSIM_ADV_* */
    VMSIM_EV_VM = 9,       /* create VM addr (2..255) with len bytes of guest memory (0:
                              the machine's), under nested paging: vmsim_vm_create */
    VMSIM_EV_NTYPES
};

enum vmsim_access_kind {
    VMSIM_READ = 0,   /* data load */
    VMSIM_WRITE = 1,  /* data store */
    VMSIM_FETCH = 2,  /* instruction fetch */
    VMSIM_MODIFY = 3, /* read-modify-write: one translation with write intent */
};

#define VMSIM_PROT_R 1u
#define VMSIM_PROT_W 2u
#define VMSIM_PROT_X 4u
/* mmap flags, in kind above the protection bits (mmap only). */
#define VMSIM_MAP_SHARED 8u      /* writes are shared with every mapper; else private (COW) */
#define VMSIM_MAP_SUPERVISOR 16u /* supervisor-only pages: user accesses fault */
#define VMSIM_MAP_FLAGS (VMSIM_MAP_SHARED | VMSIM_MAP_SUPERVISOR)

/* madvise advice (kind of a VMSIM_EV_MADVISE event). */
enum vmsim_advice {
    VMSIM_ADV_NORMAL = 0,     /* drop earlier advice */
    VMSIM_ADV_HUGEPAGE = 1,   /* MADV_HUGEPAGE: use huge pages here */
    VMSIM_ADV_NOHUGEPAGE = 2, /* MADV_NOHUGEPAGE: never use huge pages here */
    VMSIM_ADV_NTYPES
};

struct vmsim_event {
    uint8_t type;      /* enum vmsim_event_type */
    uint8_t kind;      /* access kind, or VMSIM_PROT_* bits for mmap/mprotect */
    uint16_t cpu;      /* cpu the event happens on (access, switch) */
    vmsim_pid_t pid;   /* process */
    vmsim_vaddr_t addr;
    uint64_t len;      /* access size or mapping length, in bytes */
    uint32_t file;     /* mmap: the file mapped (an id > 0), 0 for anonymous memory */
    uint32_t pgoff;    /* mmap of a file: offset into it in 4 KiB units (up to 16 TiB) */
};

/* A workload source: a trace reader or a synthetic generator behind one
 * interface. next() fills up to max events and returns how many (0 at the
 * end) or a negative VMSIM_E* code; after an error, vmsim_source_error()
 * says where and what. */
struct vmsim_source;

struct vmsim_source_error {
    char where[256];    /* "file:line", "file: byte 1234" or "workload" */
    char expected[128]; /* what the parser expected */
    char found[128];    /* what it found, printable */
};

/* Open a trace file. fmt may be NULL or "auto" (decided from the content,
 * or a "*.champsimtrace*" name), or a name in vmsim_trace_formats ("text",
 * "bin", "lackey", "din", "xdin", "pin", "champsim"). "-" reads standard
 * input. gzip, xz and zstd files are decompressed on the fly, whatever
 * their name (docs/traces.md). */
int vmsim_source_open_trace(const char *path, const char *fmt, struct vmsim_source **out,
                            struct vmsim_source_error *err);
/* Open a synthetic workload from "NAME[:k=v,...]", e.g. "seq:n=1000,stride=8",
 * laid out in a 48-bit virtual address space (docs/workloads.md). */
int vmsim_source_open_workload(const char *spec, struct vmsim_source **out,
                               struct vmsim_source_error *err);
/* The same for a machine whose virtual addresses have va_bits bits (its
 * geometry's vmsim_geometry.va_bits, 20 to 64): the workload places every
 * access inside [0, 2^va_bits), or fails to open saying which parameter
 * does not fit. A va_bits= in the spec wins. */
int vmsim_source_open_workload_for(const char *spec, unsigned va_bits, struct vmsim_source **out,
                                   struct vmsim_source_error *err);
long vmsim_source_next(struct vmsim_source *src, struct vmsim_event *buf, size_t max);
const struct vmsim_source_error *vmsim_source_error(const struct vmsim_source *src);
/* Bytes of input consumed so far (0 for generators): for progress and rates.
 * For a compressed file, compressed bytes: comparable with the file's size. */
uint64_t vmsim_source_bytes(const struct vmsim_source *src);
/* Access events the source delivers in all, when known: for a synthetic
 * workload, computed from its spec (instruction fetches included,
 * docs/workloads.md; UINT64_MAX if more); 0 when unknown (trace files).
 * For progress: the share done is the accesses consumed over this. */
uint64_t vmsim_source_total(const struct vmsim_source *src);
/* The place in the input of the last event delivered, "FILE:LINE", so that
 * an event the machine refuses can be named where a person can find it:
 * VMSIM_OK, or VMSIM_EUNSUPPORTED for a source without lines (generators,
 * the binary formats). */
int vmsim_source_where(const struct vmsim_source *src, char *buf, size_t len);
void vmsim_source_close(struct vmsim_source *src);

/* Names of the trace formats and synthetic workloads, NULL-terminated,
 * with one-line descriptions in the same order. */
extern const char *const vmsim_trace_formats[];
extern const char *const vmsim_trace_format_help[];
extern const char *const vmsim_workload_names[];
extern const char *const vmsim_workload_help[];

/* Trace writers, for `vmsim convert`: "text", "bin", "din", "xdin" or "pin"
 * (the formats of vmsim_trace_formats that can be written). A path ending
 * in ".gz", ".xz" or ".zst" is written compressed (gzip -6, xz -6, zstd -3)
 * and its format, with fmt NULL or "auto", follows the name without that
 * suffix (".vmt": bin, else text); the suffix of a compressor vmsim does
 * not write (".bz2", ".lz4", ".lzma", ".lz", ".Z", ".zip", ".7z", ".br",
 * ".zstd") gives VMSIM_EUNSUPPORTED. "-" (standard output) is never
 * compressed. */
struct vmsim_sink;
int vmsim_sink_open(const char *path, const char *fmt, struct vmsim_sink **out);
int vmsim_sink_write(struct vmsim_sink *sink, const struct vmsim_event *ev, size_t n);
int vmsim_sink_close(struct vmsim_sink *sink); /* flushes; returns the first error */

#ifdef __cplusplus
}
#endif
#endif
