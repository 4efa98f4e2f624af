// fastfib._nanobind: the kernels of csrc/fib.c through nanobind.
//
// Line for line the pybind11 module (bindings/pybind11.cpp), nanobind being its
// leaner successor: nb:: for py::, nb::gil_scoped_release for the release. The
// same three steps: check_n holding the GIL, only the C call released, the status
// code raised back under the GIL.
#include <nanobind/nanobind.h>

#include <cstdint>

extern "C" {  // fib.h is a C header with no extern "C" of its own: without this, the
#include "fib.h"  // C++ compiler would look for C++-mangled names and the link would fail
}

namespace nb = nanobind;

namespace {

// fastfib._args.check_n, looked up once, when the module is imported (NB_MODULE below),
// not at every call. A plain pointer, and a deliberate leak: nanobind modules load in
// the main interpreter only (see the declarations at the bottom), so one per process
// is right; a static nb::object would instead be released by C++ at exit, after Python
// has shut down. Written once, before any function here can run; only read after.
PyObject *check_n = nullptr;

unsigned int checked_n(nb::handle n, const char *kernel) {
    // Step 1: an nb::handle parameter takes any object unconverted; check_n decides.
    nb::object value = nb::handle(check_n)(n, kernel, FIB_U64_MAX_N);
    return nb::cast<unsigned int>(value);  // an exact int in 0..93: cannot fail
}

nb::object result(fib_status status, std::uint64_t value, unsigned int n) {
    if (status == FIB_OK)
        return nb::int_(value);
    if (status == FIB_ERR_OVERFLOW) {
        PyErr_Format(PyExc_OverflowError, "F(%u) does not fit in 64 bits", n);
        throw nb::python_error();
    }
    PyErr_Format(PyExc_SystemError, "fastfib's C kernel returned an unknown status %d for F(%u)",
                 static_cast<int>(status), n);
    throw nb::python_error();
}

nb::object fib_gil(nb::handle n) {
    unsigned int cn = checked_n(n, "nanobind-gil");
    std::uint64_t value = 0;
    fib_status status = fib_exact_u64(cn, &value);  // the GIL stays held: no other thread runs
    return result(status, value, cn);
}

nb::object fib_nogil(nb::handle n) {
    unsigned int cn = checked_n(n, "nanobind-nogil");
    std::uint64_t value = 0;
    fib_status status;
    {
        nb::gil_scoped_release release;  // step 2: released until the closing brace
        status = fib_exact_u64(cn, &value);
    }
    return result(status, value, cn);
}

nb::object burn_gil(nb::handle n) {
    unsigned int cn = checked_n(n, "nanobind-gil");
    std::uint64_t value = 0;
    fib_status status = fib_burn(cn, &value, nullptr);
    return result(status, value, cn);
}

nb::object burn_nogil(nb::handle n) {
    unsigned int cn = checked_n(n, "nanobind-nogil");
    std::uint64_t value = 0;
    fib_status status;
    {
        nb::gil_scoped_release release;  // other Python threads run while C works
        status = fib_burn(cn, &value, nullptr);
    }
    return result(status, value, cn);
}

nb::tuple thread_state_attached() {
#if PY_VERSION_HEX >= 0x030D0000
    auto current = [] { return PyThreadState_GetUnchecked(); };
#else
    auto current = [] { return _PyThreadState_UncheckedGet(); };
#endif
    bool outside = current() != nullptr, inside;
    {
        nb::gil_scoped_release release;
        inside = current() != nullptr;
    }
    return nb::make_tuple(outside, inside);
}

}  // namespace

// The declarations. Free-threading is a *build* option in nanobind, not a line
// here: NB_FREE_THREADED (CMake's `nanobind_add_module(... FREE_THREADED)`;
// setup.py defines it on a free-threaded CPython) makes NB_MODULE add the
// Py_mod_gil slot, and turns on nanobind's own locking. Subinterpreters: nanobind
// declares Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED for every module -- its
// type registry and internals are process-wide -- so this module cannot load in
// a subinterpreter, own GIL or not.
//
// nb::arg("n").none(): nanobind turns None away itself, before the function runs, with
// its own TypeError ("incompatible function arguments"); .none() lets None through to
// check_n, whose TypeError is every kernel's.
NB_MODULE(_nanobind, m) {
    m.doc() = "csrc/fib.c's kernels through nanobind, holding or releasing the GIL.";
    m.attr("MAX_N") = FIB_U64_MAX_N;
    if (check_n == nullptr)  // a second import (after `del sys.modules[...]`) keeps the first
        check_n = nb::object(nb::module_::import_("fastfib._args").attr("check_n")).release().ptr();
    m.def("fib_gil", &fib_gil, nb::arg("n").none(),
          "F(n) exactly, by fast doubling in C, holding the GIL (n <= 93).");
    m.def("fib_nogil", &fib_nogil, nb::arg("n").none(),
          "F(n) exactly, by fast doubling in C, with the GIL released (n <= 93).");
    m.def("burn_gil", &burn_gil, nb::arg("n").none(), "F(n) by naive recursion in C, holding the GIL.");
    m.def("burn_nogil", &burn_nogil, nb::arg("n").none(), "F(n) by naive recursion in C, with the GIL released.");
    m.def("_thread_state_attached", &thread_state_attached);
}
