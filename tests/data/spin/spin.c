/* A C extension as an author would write one, the same CPU loop three ways:
 * spin_gil(n) holds the GIL throughout, spin_nogil(n) releases it around the
 * loop, spin_half(n) releases it for the first half only. n iterations of a
 * xorshift step, about 1 ns each; the result is returned so the loop stays. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

static uint64_t spin(uint64_t n, uint64_t x) {
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

static int read_n(PyObject *arg, uint64_t *n) {
    unsigned long long value = PyLong_AsUnsignedLongLong(arg);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    *n = value;
    return 0;
}

static PyObject *spin_gil(PyObject *self, PyObject *arg) {
    uint64_t n;
    if (read_n(arg, &n) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(spin(n, 88172645463325252ULL));
}

static PyObject *spin_nogil(PyObject *self, PyObject *arg) {
    uint64_t n, x;
    if (read_n(arg, &n) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    x = spin(n, 88172645463325252ULL);
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLongLong(x);
}

static PyObject *spin_half(PyObject *self, PyObject *arg) {
    uint64_t n, x;
    if (read_n(arg, &n) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS
    x = spin(n / 2, 88172645463325252ULL);
    Py_END_ALLOW_THREADS
    return PyLong_FromUnsignedLongLong(spin(n - n / 2, x));
}

static PyMethodDef methods[] = {
    {"spin_gil", spin_gil, METH_O, "n xorshift steps, the GIL held"},
    {"spin_nogil", spin_nogil, METH_O, "n xorshift steps, the GIL released"},
    {"spin_half", spin_half, METH_O, "n xorshift steps, the GIL released for the first half"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_MOD_GIL_NOT_USED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "spin", NULL, 0, methods, slots};

PyMODINIT_FUNC PyInit_spin(void) { return PyModuleDef_Init(&module); }
