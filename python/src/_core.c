/* vmsim._core: the CPython binding of libvmsim (docs/python.md).
 *
 * One type, Machine: a struct vmsim built from the options of `vmsim run`
 * (a list of "--name", "value" tokens; vmsim/__init__.py turns keywords into
 * it), fed by a trace file, a synthetic workload or arrays of addresses and
 * kinds, read back as the JSON document of `vmsim run --json`. The Python
 * layer (vmsim/__init__.py) adds keyword options, numpy conversion, flat
 * statistics and sweeps; this file stays the thin part that must be C.
 *
 * Errors: every message is vmsim's own (the option parser, the trace
 * readers' "expected ..., found ...", vmsim_strerror), raised as
 * vmsim.Error, a ValueError. Simulation runs without the GIL (the library
 * has no global state, DESIGN.md), so Python threads can run machines side
 * by side; between batches the GIL is taken back to let Ctrl-C through.
 *
 * The options go through the library's vmsim_config_option, the parser
 * `vmsim run` uses too: an option means the same, and is refused with the
 * same message, in both. Only the public API (include/vmsim/) is used. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmsim/vmsim.h"

#define BATCH 4096

static PyObject *Error; /* vmsim.Error */

/* ---- options ------------------------------------------------------------ */

/* The value of the option at argv[*i] (NULL for a flag); *i moves past it. */
static const char *option_value(char **argv, int *i)
{
    return vmsim_config_option_takes_value(argv[*i] + 2) == 1 ? argv[++*i] : NULL;
}

/* argv holds "vmsim" then "--name" [value] pairs. Read as `vmsim run`
 * reads its command line (src/cli/config.c, cli_config_init): --machine
 * first wherever it is (a preset sets many fields and must not undo a later
 * --tlb), then the last valid --geometry (the preset's page-walk caches of
 * levels it lacks go before --pwc is read), then the other options in
 * order, a --geometry there only checked for its error. */
static int parse_config(struct vmsim_config *cfg, int argc, char **argv, char *why, size_t len)
{
    vmsim_config_default(cfg);
    const char *geometry = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i] + 2, "machine") &&
            vmsim_config_option(cfg, "machine", option_value(argv, &i), why, len))
            return -1;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i] + 2, *value = option_value(argv, &i);
        struct vmsim_config tmp = *cfg;
        if (!strcmp(name, "geometry") && !vmsim_config_option(&tmp, name, value, NULL, 0))
            geometry = value;
    }
    if (geometry)
        vmsim_config_option(cfg, "geometry", geometry, NULL, 0);
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i] + 2, *value = option_value(argv, &i);
        struct vmsim_config tmp = *cfg;
        if (!strcmp(name, "machine"))
            continue;
        if (vmsim_config_option(!strcmp(name, "geometry") ? &tmp : cfg, name, value, why, len))
            return -1;
    }
    return vmsim_config_finish(cfg, why, len) == 0 ? 0 : -1;
}

static int option_takes_value(const char *name)
{
    const int t = vmsim_config_option_takes_value(name);
    return t < 0 ? -1 : t;
}

static PyObject *option_names(PyObject *mod, PyObject *unused)
{
    PyObject *d = PyDict_New();
    for (const char *const *n = vmsim_config_option_names(); d && *n; n++) {
        PyObject *v = PyBool_FromLong(vmsim_config_option_takes_value(*n) == 1);
        PyDict_SetItemString(d, *n, v);
        Py_DECREF(v);
    }
    return d;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = PyMem_Malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void free_argv(char **argv, int argc)
{
    for (int i = 1; i < argc; i++)
        PyMem_Free(argv[i]);
    PyMem_Free(argv);
}

/* The tokens ("--name value", "--name=value", "--flag") as argv: "vmsim",
 * then "--name" [value] pairs, each string a copy. The rules of the CLI's
 * getopt (options.c): every option known and whole, a value where one is
 * taken and none for a flag. -1 with the exception set. */
static int tokens_to_argv(PyObject *seq, char ***argvp, int *argcp)
{
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    char **argv = PyMem_Calloc((size_t)n * 2 + 2, sizeof *argv);
    if (!argv) {
        PyErr_NoMemory();
        return -1;
    }
    int argc = 0;
    argv[argc++] = "vmsim";
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        const char *tok = PyUnicode_Check(item) ? PyUnicode_AsUTF8(item) : NULL;
        if (!tok) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "options: expected strings, found %R", item);
            goto fail;
        }
        if (strncmp(tok, "--", 2) != 0 || !tok[2]) {
            PyErr_Format(Error, "expected an option such as --tlb, found \"%s\"", tok);
            goto fail;
        }
        const char *eq = strchr(tok, '=');
        const size_t nlen = eq ? (size_t)(eq - tok) : strlen(tok);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(nlen - 2 < 63 ? nlen - 2 : 63), tok + 2);
        const int takes = option_takes_value(name);
        if (takes < 0) {
            PyErr_Format(Error, "unknown option \"--%s\" (expected a machine option of "
                         "vmsim run, docs/cli.md)", name);
            goto fail;
        }
        if (!takes && eq) {
            PyErr_Format(Error, "--%s: expected no value (a flag), found \"%s\"", name, eq + 1);
            goto fail;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (takes && !eq) {
            PyObject *next = i + 1 < n ? PySequence_Fast_GET_ITEM(seq, i + 1) : NULL;
            value = next && PyUnicode_Check(next) ? PyUnicode_AsUTF8(next) : NULL;
            if (!value) {
                PyErr_Format(Error, "--%s: expected a value, found %s", name,
                             next ? "something other than a string" : "the end of the options");
                goto fail;
            }
            i++;
        }
        if (!(argv[argc++] = dup_n(tok, nlen)) ||
            (value && !(argv[argc++] = dup_n(value, strlen(value))))) {
            PyErr_NoMemory();
            goto fail;
        }
    }
    *argvp = argv;
    *argcp = argc;
    return 0;
fail:
    free_argv(argv, argc);
    return -1;
}

/* ---- the Machine type ----------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    struct vmsim *sim;
    char source[1024]; /* what it ran, as `vmsim run --json` names it */
    bool ran;          /* events were run (OPT's plan must come first) */
    bool busy;         /* a run is going on without the GIL: nothing else may touch sim */
    const char *stopped; /* why a run ended before its input did, as the JSON's
                            stopped_by says it (docs/stats.md); NULL: none did */
} Machine;

static int Machine_init(Machine *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"options", NULL};
    PyObject *opts = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O", kwlist, &opts))
        return -1;
    PyObject *seq = opts ? PySequence_Fast(opts, "options: expected a list of strings")
                         : PyList_New(0);
    if (!seq)
        return -1;
    char **argv;
    int argc;
    if (tokens_to_argv(seq, &argv, &argc) != 0) {
        Py_DECREF(seq);
        return -1;
    }
    struct vmsim_config cfg;
    char why[1024] = "";
    int rc = parse_config(&cfg, argc, argv, why, sizeof why);
    free_argv(argv, argc);
    Py_DECREF(seq);
    if (rc != 0) {
        PyErr_SetString(Error, why);
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(Error, "the machine is running in another thread: it cannot be "
                               "built again now");
        return -1;
    }
    if (self->sim) {
        vmsim_destroy(self->sim);
        self->sim = NULL;
    }
    why[0] = '\0';
    if ((rc = vmsim_create_why(&cfg, &self->sim, why, sizeof why)) != 0) {
        PyErr_Format(Error, "cannot build the machine: %s", why[0] ? why : vmsim_strerror(rc));
        return -1;
    }
    snprintf(self->source, sizeof self->source, "none");
    self->ran = false;
    self->stopped = NULL;
    return 0;
}

static void Machine_dealloc(Machine *self)
{
    if (self->sim)
        vmsim_destroy(self->sim);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The machine exists and no other thread is running it (a struct vmsim is
 * one thread's at a time; the GIL, held here, orders the checks). */
static int check_sim(Machine *self)
{
    if (!self->sim) {
        PyErr_SetString(Error, "the machine was not built (Machine.__init__ failed)");
        return -1;
    }
    if (self->busy) {
        PyErr_SetString(Error, "the machine is running in another thread: one run at a time "
                               "per machine (use a Machine per thread)");
        return -1;
    }
    return 0;
}

/* OPT replacement needs every event before the first: one run per machine. */
static int check_opt(Machine *self)
{
    if (vmsim_get_config(self->sim)->replace == VMSIM_REPLACE_OPT && self->ran) {
        PyErr_SetString(Error, "--replace opt plans the whole input before running it: one "
                               "run_* call per machine (build a new Machine)");
        return -1;
    }
    return 0;
}

/* How many events the machine has taken since it was built. */
static uint64_t all_events(const struct vmsim *sim)
{
    struct vmsim_warmup w;
    vmsim_get_warmup(sim, &w);
    return w.events + vmsim_get_stats(sim)->events;
}

/* Feed n events without the GIL; raise vmsim's reason on a failure, naming
 * the event by its index in this run_* call: base events of the call went
 * before these, and the machine had taken start events when it began (read
 * once per call: vmsim_get_stats is not free). */
static int feed(Machine *self, const struct vmsim_event *ev, size_t n, uint64_t base,
                uint64_t start, const char *what)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = vmsim_run(self->sim, ev, n);
    Py_END_ALLOW_THREADS
    if (rc == 0)
        return 0;
    const uint64_t bad = all_events(self->sim) - start; /* index in the call */
    const struct vmsim_event *e = &ev[bad - base < n ? bad - base : n - 1];
    if (rc == VMSIM_ERANGE)
        PyErr_Format(Error, "%s: event %llu: cpu %u, but the machine has %u CPUs (cpus)", what,
                     (unsigned long long)bad, (unsigned)e->cpu,
                     (unsigned)vmsim_get_config(self->sim)->ncpus);
    else
        PyErr_Format(Error, "%s: event %llu: %s", what, (unsigned long long)bad,
                     vmsim_strerror(rc));
    self->stopped = "event error";
    return -1;
}

/* Read src to its end into the machine (plan = give it to vmsim_plan instead). */
static int drain(Machine *self, struct vmsim_source *src, bool plan, const char *what)
{
    struct vmsim_event *buf = PyMem_Malloc(BATCH * sizeof *buf);
    if (!buf) {
        PyErr_NoMemory();
        return -1;
    }
    uint64_t done = 0;
    const uint64_t start = plan ? 0 : all_events(self->sim);
    int status = 0;
    for (;;) {
        long n;
        Py_BEGIN_ALLOW_THREADS
        n = vmsim_source_next(src, buf, BATCH);
        Py_END_ALLOW_THREADS
        if (n < 0) {
            const struct vmsim_source_error *e = vmsim_source_error(src);
            PyErr_Format(Error, "%s: expected %s, found %s", e->where, e->expected, e->found);
            self->stopped = "trace error";
            status = -1;
            break;
        }
        if (n == 0)
            break;
        if (plan) {
            int rc = vmsim_plan(self->sim, buf, (size_t)n);
            if (rc != 0) {
                PyErr_Format(Error, "%s: planning --replace opt: %s", what, vmsim_strerror(rc));
                status = -1;
                break;
            }
        } else if ((status = feed(self, buf, (size_t)n, done, start, what)) != 0) {
            break;
        }
        done += (uint64_t)n;
        if ((status = PyErr_CheckSignals()) != 0) { /* Ctrl-C: KeyboardInterrupt */
            self->stopped = "SIGINT";
            break;
        }
    }
    PyMem_Free(buf);
    return status;
}

typedef int (*open_fn)(Machine *self, const char *arg, const char *fmt, struct vmsim_source **src);

static int open_trace(Machine *self, const char *path, const char *fmt, struct vmsim_source **src)
{
    struct vmsim_source_error err = {0};
    int rc = vmsim_source_open_trace(path, fmt, src, &err);
    if (rc == 0)
        return 0;
    if (err.where[0])
        PyErr_Format(Error, "%s: expected %s, found %s", err.where, err.expected, err.found);
    else
        PyErr_Format(Error, "cannot open %s: %s", path, vmsim_strerror(rc));
    return -1;
}

static int open_workload(Machine *self, const char *spec, const char *fmt,
                         struct vmsim_source **src)
{
    struct vmsim_source_error err = {0};
    const unsigned va_bits = vmsim_get_config(self->sim)->geom.va_bits;
    int rc = vmsim_source_open_workload_for(spec, va_bits, src, &err);
    if (rc == 0)
        return 0;
    if (err.where[0])
        PyErr_Format(Error, "%s: expected %s, found %s", err.where, err.expected, err.found);
    else
        PyErr_Format(Error, "cannot open workload %s: %s", spec, vmsim_strerror(rc));
    return -1;
}

/* Run a source to its end: twice for OPT (the plan, then the run). */
static PyObject *run_source(Machine *self, open_fn open, const char *arg, const char *fmt,
                            const char *source)
{
    if (check_sim(self) || check_opt(self))
        return NULL;
    const bool opt = vmsim_get_config(self->sim)->replace == VMSIM_REPLACE_OPT;
    self->busy = true;
    for (int pass = opt ? 0 : 1; pass < 2; pass++) {
        struct vmsim_source *src;
        if (open(self, arg, fmt, &src) != 0)
            goto fail;
        if (pass == 1) { /* events run from here: the statistics are this input's */
            self->ran = true;
            snprintf(self->source, sizeof self->source, "%s", source);
        }
        int rc = drain(self, src, pass == 0, source);
        vmsim_source_close(src);
        if (rc != 0)
            goto fail;
    }
    self->busy = false;
    Py_RETURN_NONE;
fail:
    self->busy = false;
    return NULL;
}

static PyObject *Machine_run_trace(Machine *self, PyObject *args)
{
    const char *path, *fmt = NULL, *name = NULL;
    if (!PyArg_ParseTuple(args, "s|zz", &path, &fmt, &name))
        return NULL;
    char source[1024];
    snprintf(source, sizeof source, "trace %s", name ? name : path);
    return run_source(self, open_trace, path, fmt, source);
}

static PyObject *Machine_run_workload(Machine *self, PyObject *args)
{
    const char *spec;
    if (!PyArg_ParseTuple(args, "s", &spec))
        return NULL;
    char source[1024];
    snprintf(source, sizeof source, "workload %s", spec);
    return run_source(self, open_workload, spec, NULL, source);
}

/* run_events(types, kinds, cpus, pids, addrs, lens): contiguous buffers of
 * uint8, uint8, uint16, uint32, uint64, uint64 of one length (the Python
 * layer makes them from numpy arrays); each i is one struct vmsim_event. */
static PyObject *Machine_run_events(Machine *self, PyObject *args)
{
    Py_buffer b[6];
    static const char *const fmts[6] = {"B", "B", "H", "I", "Q", "Q"};
    static const size_t sizes[6] = {1, 1, 2, 4, 8, 8};
    const char *source = "arrays";
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*|s", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                          &source))
        return NULL;
    PyObject *result = NULL;
    struct vmsim_event *buf = NULL;
    const Py_ssize_t n = b[0].len;
    for (int i = 0; i < 6; i++)
        if (b[i].len != n * (Py_ssize_t)sizes[i]) {
            PyErr_Format(Error, "run_events: array %d (%s) holds %zd bytes, expected %zd", i,
                         fmts[i], b[i].len, n * (Py_ssize_t)sizes[i]);
            goto out;
        }
    if (check_sim(self) || check_opt(self))
        goto out;
    buf = PyMem_Malloc(BATCH * sizeof *buf);
    if (!buf) {
        PyErr_NoMemory();
        goto out;
    }
    const uint8_t *type = b[0].buf, *kind = b[1].buf;
    const uint16_t *cpu = b[2].buf;
    const uint32_t *pid = b[3].buf;
    const uint64_t *addr = b[4].buf, *len = b[5].buf;
    const bool opt = vmsim_get_config(self->sim)->replace == VMSIM_REPLACE_OPT;
    const uint64_t start = all_events(self->sim);
    self->busy = true;
    for (int pass = opt ? 0 : 1; pass < 2; pass++) {
        for (Py_ssize_t at = 0; at < n; at += BATCH) {
            const size_t m = (size_t)(n - at < BATCH ? n - at : BATCH);
            for (size_t i = 0; i < m; i++)
                buf[i] = (struct vmsim_event){.type = type[at + i], .kind = kind[at + i],
                                              .cpu = cpu[at + i], .pid = pid[at + i],
                                              .addr = addr[at + i], .len = len[at + i]};
            if (pass == 0) {
                int rc = vmsim_plan(self->sim, buf, m);
                if (rc != 0) {
                    PyErr_Format(Error, "%s: planning --replace opt: %s", source,
                                 vmsim_strerror(rc));
                    goto out;
                }
                continue;
            }
            if (!at) {
                self->ran = true;
                snprintf(self->source, sizeof self->source, "%s", source);
            }
            if (feed(self, buf, m, (uint64_t)at, start, source) != 0)
                goto out;
            if (PyErr_CheckSignals() != 0) {
                self->stopped = "SIGINT";
                goto out;
            }
        }
    }
    result = Py_None;
    Py_INCREF(result);
out:
    if (buf) /* buf is allocated after the checks: the run was this call's */
        self->busy = false;
    PyMem_Free(buf);
    for (int i = 0; i < 6; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

/* The JSON document of `vmsim run --json`, as a str. */
static PyObject *Machine_json(Machine *self, PyObject *unused)
{
    if (check_sim(self))
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return PyErr_NoMemory();
    int rc = vmsim_write_json(self->sim, self->source, f);
    if (fclose(f) != 0 && rc == 0)
        rc = VMSIM_EIO;
    PyObject *out = rc == 0 ? PyUnicode_FromStringAndSize(text, (Py_ssize_t)size) : NULL;
    if (rc != 0)
        PyErr_Format(Error, "writing the JSON document: %s", vmsim_strerror(rc));
    free(text);
    return out;
}

static PyObject *Machine_reset_stats(Machine *self, PyObject *unused)
{
    if (check_sim(self))
        return NULL;
    int rc = vmsim_reset_stats(self->sim);
    if (rc != 0)
        return PyErr_Format(Error, "reset_stats: %s", vmsim_strerror(rc));
    Py_RETURN_NONE;
}

static PyMethodDef Machine_methods[] = {
    {"run_trace", (PyCFunction)Machine_run_trace, METH_VARARGS,
     "run_trace(path, format=None, name=None): run a trace file to its end (name: as the source names it)"},
    {"run_workload", (PyCFunction)Machine_run_workload, METH_VARARGS,
     "run_workload(spec): run a synthetic workload (docs/workloads.md)"},
    {"run_events", (PyCFunction)Machine_run_events, METH_VARARGS,
     "run_events(types, kinds, cpus, pids, addrs, lens[, source]): contiguous buffers of "
     "uint8, uint8, uint16, uint32, uint64, uint64"},
    {"json", (PyCFunction)Machine_json, METH_NOARGS,
     "json(): the statistics and configuration, the document of `vmsim run --json`"},
    {"reset_stats", (PyCFunction)Machine_reset_stats, METH_NOARGS,
     "reset_stats(): zero the statistics, keep the state (vmsim_reset_stats)"},
    {NULL, NULL, 0, NULL}};

static PyObject *Machine_get_stopped(Machine *self, void *unused)
{
    if (!self->stopped)
        Py_RETURN_NONE;
    return PyUnicode_FromString(self->stopped);
}

static PyGetSetDef Machine_getset[] = {
    {"stopped", (getter)Machine_get_stopped, NULL,
     "why a run stopped before the end of its input (stopped_by of the JSON), or None", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MachineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vmsim._core.Machine",
    .tp_doc = "Machine(options): a simulated machine built from `vmsim run` options",
    .tp_basicsize = sizeof(Machine),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Machine_init,
    .tp_dealloc = (destructor)Machine_dealloc,
    .tp_methods = Machine_methods,
    .tp_getset = Machine_getset,
};

/* ---- the module ------------------------------------------------------------ */

static PyObject *names_tuple(const char *const *names)
{
    Py_ssize_t n = 0;
    while (names[n])
        n++;
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t && i < n; i++)
        PyTuple_SET_ITEM(t, i, PyUnicode_FromString(names[i]));
    return t;
}

static PyMethodDef module_methods[] = {
    {"option_names", option_names, METH_NOARGS,
     "option_names(): {name: takes a value} for every machine option of vmsim run"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "vmsim._core",
    .m_doc = "The C binding of libvmsim (docs/python.md).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__core(void)
{
    if (PyType_Ready(&MachineType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Error = PyErr_NewExceptionWithDoc("vmsim.Error",
                                      "vmsim refused something: the message is vmsim's own",
                                      PyExc_ValueError, NULL);
    Py_INCREF(&MachineType);
    if (!Error || PyModule_AddObject(m, "Error", Error) < 0 ||
        PyModule_AddObject(m, "Machine", (PyObject *)&MachineType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(Error);
    PyModule_AddObject(m, "trace_formats", names_tuple(vmsim_trace_formats));
    PyModule_AddObject(m, "workload_names", names_tuple(vmsim_workload_names));
    PyModule_AddObject(m, "machine_names", names_tuple(vmsim_machine_names));
    PyModule_AddObject(m, "pt_names", names_tuple(vmsim_pt_names));
    return m;
}
