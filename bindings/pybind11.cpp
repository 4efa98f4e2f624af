// fastfib._pybind11: the kernels of csrc/fib.c through pybind11.
//
// The same three steps as _kernels.pyx and bindings/capi.c:
//   1. validate in Python-object space, holding the GIL: fastfib._args.check_n,
//      so the errors are the Cython kernels' to the letter. The argument is a
//      py::object on purpose: a `unsigned int n` parameter would let pybind11
//      convert it itself, and its rules are not ours (it rejects 3.9 with its own
//      TypeError, but a -1 raises TypeError instead of ValueError);
//   2. call C: the *_nogil functions hold a py::gil_scoped_release for exactly
//      the C call -- an RAII guard: its constructor releases the GIL, its
//      destructor takes it back. No py:: object may be touched while it lives;
//   3. back under the GIL, turn the C status code into a Python exception: a C++
//      exception that pybind11 translates (py::value_error -> ValueError, ...).
#include <pybind11/gil_safe_call_once.h>
#include <pybind11/pybind11.h>

#include <cstdint>

extern "C" {  // fib.h is a C header with no extern "C" of its own: without this, the
#include "fib.h"  // C++ compiler would look for C++-mangled names and the link would fail
}

namespace py = pybind11;

namespace {

unsigned int checked_n(const py::object &n, const char *kernel) {
    // Step 1, with fastfib._args.check_n looked up once, not at every call.
    // Not `static py::object check_n = ...`: that one object would be shared by
    // every subinterpreter (this module declares own-GIL support below), its
    // initialiser could deadlock with the GIL, and its destructor would run after
    // Python has shut down. gil_safe_call_once_and_store is pybind11's answer: one
    // value per interpreter (kept in that interpreter's state dict, released with
    // it), initialised once under a lock ordered with the GIL.
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
    py::object &check_n =  // a reference, never `static`: each interpreter has its own
        storage.call_once_and_store_result([] { return py::module_::import("fastfib._args").attr("check_n"); })
            .get_stored();
    py::object value = check_n(n, kernel, FIB_U64_MAX_N);
    return value.cast<unsigned int>();  // an exact int in 0..93: cannot fail
}

py::int_ result(fib_status status, std::uint64_t value, unsigned int n) {
    // Step 3. pybind11 has no built-in C++ type for OverflowError: raise it the C API way.
    if (status == FIB_OK)
        return py::int_(value);
    if (status == FIB_ERR_OVERFLOW) {
        PyErr_Format(PyExc_OverflowError, "F(%u) does not fit in 64 bits", n);
        throw py::error_already_set();
    }
    PyErr_Format(PyExc_SystemError, "fastfib's C kernel returned an unknown status %d for F(%u)",
                 static_cast<int>(status), n);
    throw py::error_already_set();
}

py::int_ fib_gil(const py::object &n) {
    unsigned int cn = checked_n(n, "pybind11-gil");
    std::uint64_t value = 0;
    fib_status status = fib_exact_u64(cn, &value);  // the GIL stays held: no other thread runs
    return result(status, value, cn);
}

py::int_ fib_nogil(const py::object &n) {
    unsigned int cn = checked_n(n, "pybind11-nogil");
    std::uint64_t value = 0;
    fib_status status;
    {
        py::gil_scoped_release release;  // step 2: the GIL is released until the closing brace
        status = fib_exact_u64(cn, &value);
    }
    return result(status, value, cn);
}

py::int_ burn_gil(const py::object &n) {
    unsigned int cn = checked_n(n, "pybind11-gil");
    std::uint64_t value = 0;
    fib_status status = fib_burn(cn, &value, nullptr);  // nullptr: no cancel token
    return result(status, value, cn);
}

py::int_ burn_nogil(const py::object &n) {
    unsigned int cn = checked_n(n, "pybind11-nogil");
    std::uint64_t value = 0;
    fib_status status;
    {
        py::gil_scoped_release release;  // other Python threads run while C works
        status = fib_burn(cn, &value, nullptr);
    }
    // (py::call_guard<py::gil_scoped_release>() on .def would release around the whole
    // function instead, check_n's Python call included: wrong here, as it touches objects.)
    return result(status, value, cn);
}

py::tuple thread_state_attached() {
    // For the tests: (outside, inside) the release: is a thread state attached?
#if PY_VERSION_HEX >= 0x030D0000
    auto current = [] { return PyThreadState_GetUnchecked(); };
#else
    auto current = [] { return _PyThreadState_UncheckedGet(); };
#endif
    bool outside = current() != nullptr, inside;
    {
        py::gil_scoped_release release;
        inside = current() != nullptr;
    }
    return py::make_tuple(outside, inside);
}

}  // namespace

// The declarations: py::mod_gil_not_used() sets the Py_mod_gil slot (free-threaded
// CPython may keep the GIL disabled); per_interpreter_gil() sets
// Py_mod_multiple_interpreters to Py_MOD_PER_INTERPRETER_GIL_SUPPORTED (pybind11 3.0+:
// its internals are kept per interpreter). Both are promises: this module's one
// cached object is per interpreter (checked_n above), which is what makes them true.
PYBIND11_MODULE(_pybind11, m, py::mod_gil_not_used(), py::multiple_interpreters::per_interpreter_gil()) {
    m.doc() = "csrc/fib.c's kernels through pybind11, holding or releasing the GIL.";
    m.attr("MAX_N") = FIB_U64_MAX_N;
    m.def("fib_gil", &fib_gil, py::arg("n"), "F(n) exactly, by fast doubling in C, holding the GIL (n <= 93).");
    m.def("fib_nogil", &fib_nogil, py::arg("n"),
          "F(n) exactly, by fast doubling in C, with the GIL released (n <= 93).");
    m.def("burn_gil", &burn_gil, py::arg("n"), "F(n) by naive recursion in C, holding the GIL.");
    m.def("burn_nogil", &burn_nogil, py::arg("n"), "F(n) by naive recursion in C, with the GIL released.");
    m.def("_thread_state_attached", &thread_state_attached);
}
