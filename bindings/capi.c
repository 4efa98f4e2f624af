/* fastfib._capi: the kernels of csrc/fib.c through the plain C API, no generator.
 *
 * The same three steps as _kernels.pyx, written out by hand:
 *   1. validate in Python-object space, holding the GIL: fastfib._args.check_n,
 *      the check every kernel shares, so the errors are the Cython kernels' to
 *      the letter (TypeError, ValueError, OverflowError);
 *   2. call C: the *_nogil functions put only that call between
 *      Py_BEGIN_ALLOW_THREADS and Py_END_ALLOW_THREADS -- no PyObject may be
 *      touched in between, and no exception can be raised there;
 *   3. back under the GIL, turn the C status code into a Python exception.
 *
 * The module keeps no C globals (no static PyObject *): what it needs between
 * calls lives in its *module state*, one per module object, so one per
 * (sub)interpreter. That is what makes the two declarations at the bottom true --
 * free-threading (Py_mod_gil) and one GIL per subinterpreter
 * (Py_mod_multiple_interpreters).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "fib.h"

/* The module state: filled once by exec_module, read-only afterwards (so any
 * number of threads may read it at once, GIL or not). Each interpreter that
 * imports fastfib._capi gets its own module object and so its own state: a
 * subinterpreter never sees the main interpreter's objects. */
typedef struct {
    PyObject *check_n;    /* fastfib._args.check_n, looked up once, not at every call */
    PyObject *gil_name;   /* "capi-gil" and "capi-nogil": check_n's kernel argument, */
    PyObject *nogil_name; /*   made once as str objects (as Cython's constants are) */
    PyObject *max_n;      /* FIB_U64_MAX_N as an int */
} capi_state;

/* Step 1: check_n(n, kernel, 93), as an unsigned int. `module` is what every
 * module-level function receives as its first argument: the way to its state. */
static int
checked_n(PyObject *module, PyObject *n, int nogil, unsigned int *out)
{
    capi_state *state = PyModule_GetState(module);
    PyObject *args[] = {n, nogil ? state->nogil_name : state->gil_name, state->max_n};
    /* Vectorcall: the arguments go as a C array, no tuple built for them. */
    PyObject *value = PyObject_Vectorcall(state->check_n, args, 3, NULL);
    if (value == NULL)
        return -1; /* check_n's own TypeError / ValueError / OverflowError */
    /* check_n returned an exact int in 0..93: this conversion cannot fail. */
    unsigned long c = PyLong_AsUnsignedLong(value);
    Py_DECREF(value);
    if (c == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *out = (unsigned int)c;
    return 0;
}

/* Step 3: the status code, turned into a result or an exception (GIL held). */
static PyObject *
result(fib_status status, uint64_t value, unsigned int n)
{
    if (status == FIB_OK)
        return PyLong_FromUnsignedLongLong(value);
    if (status == FIB_ERR_OVERFLOW)
        return PyErr_Format(PyExc_OverflowError, "F(%u) does not fit in 64 bits", n);
    return PyErr_Format(PyExc_SystemError, "fastfib's C kernel returned an unknown status %d for F(%u)",
                        (int)status, n);
}

/* METH_O: the function takes exactly one positional argument, passed as is. */
static PyObject *
fib_gil(PyObject *module, PyObject *arg)
{
    unsigned int n;
    uint64_t value = 0;
    if (checked_n(module, arg, 0, &n) < 0)
        return NULL;
    fib_status status = fib_exact_u64(n, &value); /* the GIL stays held: no other thread runs */
    return result(status, value, n);
}

static PyObject *
fib_nogil(PyObject *module, PyObject *arg)
{
    unsigned int n;
    uint64_t value = 0;
    fib_status status;
    if (checked_n(module, arg, 1, &n) < 0)
        return NULL;
    /* Step 2. The macros open and close a block (they save the thread state in
     * a local): declare `status` before it, and never `return` from inside it. */
    Py_BEGIN_ALLOW_THREADS
    status = fib_exact_u64(n, &value);
    Py_END_ALLOW_THREADS
    return result(status, value, n);
}

static PyObject *
burn_gil(PyObject *module, PyObject *arg)
{
    unsigned int n;
    uint64_t value = 0;
    if (checked_n(module, arg, 0, &n) < 0)
        return NULL;
    fib_status status = fib_burn(n, &value, NULL); /* NULL: no cancel token */
    return result(status, value, n);
}

static PyObject *
burn_nogil(PyObject *module, PyObject *arg)
{
    unsigned int n;
    uint64_t value = 0;
    fib_status status;
    if (checked_n(module, arg, 1, &n) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS /* other Python threads run while C works */
    status = fib_burn(n, &value, NULL);
    Py_END_ALLOW_THREADS /* waits for the GIL, then attaches this thread again */
    return result(status, value, n);
}

/* For the tests: (outside, inside) the release block, is a thread state attached? */
static PyObject *
thread_state_attached(PyObject *module, PyObject *unused)
{
#if PY_VERSION_HEX >= 0x030D0000
#define current_thread_state() PyThreadState_GetUnchecked()
#else
#define current_thread_state() _PyThreadState_UncheckedGet()
#endif
    int outside = current_thread_state() != NULL, inside;
    Py_BEGIN_ALLOW_THREADS
    inside = current_thread_state() != NULL;
    Py_END_ALLOW_THREADS
    return Py_BuildValue("(OO)", outside ? Py_True : Py_False, inside ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"fib_gil", fib_gil, METH_O, "F(n) exactly, by fast doubling in C, holding the GIL (n <= 93)."},
    {"fib_nogil", fib_nogil, METH_O, "F(n) exactly, by fast doubling in C, with the GIL released (n <= 93)."},
    {"burn_gil", burn_gil, METH_O, "F(n) by naive recursion in C, holding the GIL."},
    {"burn_nogil", burn_nogil, METH_O, "F(n) by naive recursion in C, with the GIL released."},
    {"_thread_state_attached", thread_state_attached, METH_NOARGS,
     "(outside, inside) the Py_BEGIN_ALLOW_THREADS block: is a thread state attached?"},
    {NULL, NULL, 0, NULL},
};

static int
exec_module(PyObject *module)
{
    capi_state *state = PyModule_GetState(module);
    /* Imported in *this* interpreter: its own fastfib._args, its own check_n. */
    PyObject *args = PyImport_ImportModule("fastfib._args");
    if (args == NULL)
        return -1;
    state->check_n = PyObject_GetAttrString(args, "check_n");
    Py_DECREF(args);
    state->gil_name = PyUnicode_InternFromString("capi-gil");
    state->nogil_name = PyUnicode_InternFromString("capi-nogil");
    state->max_n = PyLong_FromLong(FIB_U64_MAX_N);
    if (!state->check_n || !state->gil_name || !state->nogil_name || !state->max_n)
        return -1; /* the module is discarded: capi_clear releases what was made */
    return PyModule_AddIntConstant(module, "MAX_N", FIB_U64_MAX_N);
}

/* The state holds references: the garbage collector must see them (traverse)
 * and be able to drop them (clear), and they go when the module goes (free). */
static int
capi_traverse(PyObject *module, visitproc visit, void *arg)
{
    capi_state *state = PyModule_GetState(module);
    Py_VISIT(state->check_n);
    return 0; /* the other three are a str and ints: they cannot form cycles */
}

static int
capi_clear(PyObject *module)
{
    capi_state *state = PyModule_GetState(module);
    Py_CLEAR(state->check_n);
    Py_CLEAR(state->gil_name);
    Py_CLEAR(state->nogil_name);
    Py_CLEAR(state->max_n);
    return 0;
}

static void
capi_free(void *module)
{
    capi_clear((PyObject *)module);
}

/* Multi-phase initialisation (PEP 489): the slots are the declarations. */
static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
#ifdef Py_mod_multiple_interpreters /* 3.12+: loads in a subinterpreter with its own GIL */
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil /* 3.13+: a promise that free-threaded CPython may keep the GIL disabled */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastfib._capi",
    .m_doc = "csrc/fib.c's kernels through the plain C API, holding or releasing the GIL.",
    .m_size = sizeof(capi_state), /* Python allocates it, zeroed, for each module object */
    .m_methods = methods,
    .m_slots = slots,
    .m_traverse = capi_traverse,
    .m_clear = capi_clear,
    .m_free = capi_free,
};

PyMODINIT_FUNC
PyInit__capi(void)
{
    return PyModuleDef_Init(&module_def);
}
