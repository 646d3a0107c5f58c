/* The text grammar of `vmsim sweep`: axes ("KEY=V1,V2,..." with range
 * shorthand), workload-parameter edits and {NAME} placeholders, and the
 * shortest exact spelling of a number. Pure functions: no printing, no
 * process state, so the fuzzer (fuzz/fuzz_sweep.c) and tests call them
 * directly. Errors fill err with "expected WHAT, found WHAT". */
#ifndef VMSIM_CLI_SWEEP_SPEC_H
#define VMSIM_CLI_SWEEP_SPEC_H

#include <stddef.h>

#define SWEEP_MAX_VALUES 4096   /* values of one axis */
#define SWEEP_MAX_POINTS 100000 /* points of a grid */
#define SWEEP_VALUE_MAX 1024    /* bytes of one value, NUL included */
#define SWEEP_KEY_MAX 64

struct sweep_axis {
    char key[SWEEP_KEY_MAX];
    size_t nvalues;
    char **values; /* each malloc'd, NUL-terminated */
};

/* Parse "KEY=V1,V2,..." into axis. Values are split at ';' when the list
 * holds one (for values with commas: TLB specs, workload specs), else at
 * ','. A value "A..B" (step 1), "A..B+S" (step S) or "A..B*F" (factor F)
 * stands for the integers from A up to B; A and B may carry a binary unit
 * (k, m, g, t), and values are then written with the largest unit that
 * divides them (64m..1g*4: 64m, 256m, 1g). Returns 0, or -1 with err set
 * (axis untouched). */
int sweep_axis_parse(const char *arg, struct sweep_axis *axis, char *err, size_t errlen);
void sweep_axis_free(struct sweep_axis *axis);

/* The workload spec NAME[:k=v,...] with key=value set, replacing a value
 * already given. 0, or -1 when out (len bytes) is too small. */
int sweep_set_param(const char *spec, const char *key, const char *value, char *out, size_t len);

/* Copy text to out replacing every "{name}" by value. Returns the number of
 * replacements, or -1 when out (len bytes) is too small. */
int sweep_subst(const char *text, const char *name, const char *value, char *out, size_t len);

/* The first "{NAME}" placeholder left in text (NAME: letters, digits, '_',
 * starting with a letter or '_'): copies NAME to name and returns 1, or 0. */
int sweep_placeholder(const char *text, char *name, size_t len);

/* A placeholder or template-variable name: [A-Za-z_][A-Za-z0-9_]*. */
int sweep_is_name(const char *s);

/* The shortest decimal spelling of v that reads back as exactly v
 * ("%.15g" if it round-trips, else up to "%.17g"); "nan"/"inf" as such. */
void sweep_format_real(double v, char *buf, size_t len);

#endif
