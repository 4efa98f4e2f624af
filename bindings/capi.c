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
 * The module keeps no C state at all (no globals, no static PyObject *): that is
 * what makes the two declarations at the bottom true -- free-threading
 * (Py_mod_gil) and one GIL per subinterpreter (Py_mod_multiple_interpreters).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "fib.h"

/* Step 1: check_n(n, kernel, 93) from fastfib._args, as an unsigned int.
 * Imported at each call rather than cached in a static: a static PyObject *
 * would be shared by every (sub)interpreter -- the very state the declarations
 * below promise we do not have. The import is a sys.modules lookup. */
static int
checked_n(PyObject *n, const char *kernel, unsigned int *out)
{
    PyObject *args = PyImport_ImportModule("fastfib._args");
    if (args == NULL)
        return -1;
    PyObject *value = PyObject_CallMethod(args, "check_n", "Osi", n, kernel, FIB_U64_MAX_N);
    Py_DECREF(args);
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
    if (checked_n(arg, "capi-gil", &n) < 0)
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
    if (checked_n(arg, "capi-nogil", &n) < 0)
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
    if (checked_n(arg, "capi-gil", &n) < 0)
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
    if (checked_n(arg, "capi-nogil", &n) < 0)
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
    return PyModule_AddIntConstant(module, "MAX_N", FIB_U64_MAX_N);
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
    .m_size = 0, /* no per-module state: nothing to share between interpreters */
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__capi(void)
{
    return PyModuleDef_Init(&module_def);
}
