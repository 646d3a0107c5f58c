/* libvmsim's version: the one place it is written. CMakeLists.txt reads it
 * from here for project(), the shared library's SONAME (the major number),
 * vmsim.pc and the CMake package, so a header never disagrees with the
 * library it was installed with. docs/library.md, "Versions and the ABI",
 * says when each number changes. */
#ifndef VMSIM_VERSION_H
#define VMSIM_VERSION_H

#define VMSIM_VERSION_MAJOR 0
#define VMSIM_VERSION_MINOR 1
#define VMSIM_VERSION_PATCH 0

#define VMSIM_VERSION_STR_(x) #x
#define VMSIM_VERSION_STR(x) VMSIM_VERSION_STR_(x)
/* "MAJOR.MINOR.PATCH" */
#define VMSIM_VERSION_STRING                                                                       \
    VMSIM_VERSION_STR(VMSIM_VERSION_MAJOR)                                                         \
    "." VMSIM_VERSION_STR(VMSIM_VERSION_MINOR) "." VMSIM_VERSION_STR(VMSIM_VERSION_PATCH)
/* One number that grows with each release: for #if VMSIM_VERSION >= VMSIM_VERSION_AT(0, 2, 0). */
#define VMSIM_VERSION_AT(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define VMSIM_VERSION VMSIM_VERSION_AT(VMSIM_VERSION_MAJOR, VMSIM_VERSION_MINOR, VMSIM_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif
/* The version of the library linked at run time, "MAJOR.MINOR.PATCH": a
 * program built with one header may run with a later library of the same
 * major version (the SONAME). Thread-safe. */
const char *vmsim_version(void);
#ifdef __cplusplus
}
#endif

#endif
