//! fastfib._pyo3: the kernels of csrc/fib.c called from Rust through PyO3.
//!
//! Rust calls the same C through its FFI (`extern "C"` below; build.rs compiles fib.c
//! into the module) rather than a Rust copy of the algorithm: the lesson is the
//! binding, and one source of arithmetic keeps every kernel's answers and timings
//! comparable. The three steps of every fastfib kernel:
//!   1. validate in Python-object space, attached to the interpreter (PyO3's word for
//!      holding the GIL): fastfib._args.check_n, so the errors are the Cython kernels'
//!      to the letter. The argument is `&Bound<PyAny>` on purpose: a `n: u32` parameter
//!      would let PyO3 convert it, by its own rules (-1 would be OverflowError, not
//!      ValueError);
//!   2. call C: `py.detach(|| ...)` (PyO3 0.28's name for `allow_threads`) releases the
//!      GIL around the closure. The closure must be `Ungil` (Send, on stable Rust): it
//!      cannot capture a `Python` token or a `Bound` object, so the compiler itself
//!      forbids touching Python objects there -- what Cython checks in `with nogil:`;
//!   3. back, turn the C status code into a PyErr.
use std::ffi::{c_int, c_uint};

use pyo3::exceptions::{PyOverflowError, PySystemError};
use pyo3::prelude::*;
use pyo3::intern;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// csrc/fib.h's FIB_U64_MAX_N (a C macro: no symbol to link, so restated here; the
/// tests check that it matches the Cython module's MAX_N, read from the header).
const FIB_U64_MAX_N: c_uint = 93;
const FIB_OK: c_int = 0; // fib_status's values (a C enum: an int)
const FIB_ERR_OVERFLOW: c_int = 1;

/// fib.h's fib_cancel, opaque: these kernels pass no cancel token (a null pointer).
#[repr(C)]
struct FibCancel {
    _opaque: [u8; 0],
}

extern "C" {
    // The C signatures of csrc/fib.h. Calling them is `unsafe`: Rust cannot check C.
    fn fib_exact_u64(n: c_uint, out: *mut u64) -> c_int;
    fn fib_burn(n: c_uint, out: *mut u64, cancel: *const FibCancel) -> c_int;
}

/// fastfib._args.check_n, imported at the first call and kept: PyOnceLock is PyO3's
/// `OnceLock` for Python objects (0.26+; `GILOnceCell` before). It detaches while it
/// waits for another thread's initialisation, so it cannot deadlock with the GIL. A
/// static is one per process: right here, as PyO3 modules load in the main interpreter
/// only (see the module's declaration at the bottom).
static CHECK_N: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn checked_n(n: &Bound<'_, PyAny>, kernel: &Bound<'_, PyString>) -> PyResult<c_uint> {
    // Step 1.
    let py = n.py();
    CHECK_N
        .import(py, "fastfib._args", "check_n")?
        .call1((n, kernel, FIB_U64_MAX_N))?
        .extract() // an exact int in 0..93: cannot fail
}

fn result(status: c_int, value: u64, n: c_uint) -> PyResult<u64> {
    // Step 3. A returned Err is raised by PyO3 when the function returns to Python.
    match status {
        FIB_OK => Ok(value),
        FIB_ERR_OVERFLOW => Err(PyOverflowError::new_err(format!("F({n}) does not fit in 64 bits"))),
        _ => Err(PySystemError::new_err(format!(
            "fastfib's C kernel returned an unknown status {status} for F({n})"
        ))),
    }
}

fn exact(n: c_uint) -> (c_int, u64) {
    let mut value = 0u64;
    let status = unsafe { fib_exact_u64(n, &mut value) };
    (status, value)
}

fn burn(n: c_uint) -> (c_int, u64) {
    let mut value = 0u64;
    let status = unsafe { fib_burn(n, &mut value, std::ptr::null()) };
    (status, value)
}

/// F(n) exactly, by fast doubling in C, holding the GIL (n <= 93).
#[pyfunction]
fn fib_gil(n: &Bound<'_, PyAny>) -> PyResult<u64> {
    // intern!: the kernel's name made a Python str once (another PyOnceLock), not per call.
    let cn = checked_n(n, intern!(n.py(), "pyo3-gil"))?;
    let (status, value) = exact(cn); // still attached: no other thread runs
    result(status, value, cn)
}

/// F(n) exactly, by fast doubling in C, with the GIL released (n <= 93).
#[pyfunction]
fn fib_nogil(py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<u64> {
    let cn = checked_n(n, intern!(py, "pyo3-nogil"))?;
    let (status, value) = py.detach(|| exact(cn)); // step 2: only the C call is detached
    result(status, value, cn)
}

/// F(n) by naive recursion in C, holding the GIL.
#[pyfunction]
fn burn_gil(n: &Bound<'_, PyAny>) -> PyResult<u64> {
    let cn = checked_n(n, intern!(n.py(), "pyo3-gil"))?;
    let (status, value) = burn(cn);
    result(status, value, cn)
}

/// F(n) by naive recursion in C, with the GIL released.
#[pyfunction]
fn burn_nogil(py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<u64> {
    let cn = checked_n(n, intern!(py, "pyo3-nogil"))?;
    let (status, value) = py.detach(|| burn(cn)); // other Python threads run while C works
    result(status, value, cn)
}

/// For the tests: (outside, inside) `py.detach`: is a thread state attached?
#[pyfunction]
fn _thread_state_attached(py: Python<'_>) -> (bool, bool) {
    // A raw pointer is not Send: compare inside, hand out only the bool.
    let attached = || unsafe { !pyo3::ffi::compat::PyThreadState_GetUnchecked().is_null() };
    (attached(), py.detach(attached))
}

/// csrc/fib.c's kernels through PyO3, holding or releasing the GIL.
///
/// `gil_used = false` sets the Py_mod_gil slot: free-threaded CPython keeps the GIL
/// disabled (PyO3 0.28's default, written out for the reader). Subinterpreters: PyO3
/// cannot declare support -- its module objects and type objects are process-wide
/// statics -- so it refuses to load in a second interpreter with an ImportError
/// (PyO3 issue 576).
#[pymodule(gil_used = false)]
#[pyo3(name = "_pyo3")]
fn fastfib_pyo3(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_N", FIB_U64_MAX_N)?;
    m.add_function(wrap_pyfunction!(fib_gil, m)?)?;
    m.add_function(wrap_pyfunction!(fib_nogil, m)?)?;
    m.add_function(wrap_pyfunction!(burn_gil, m)?)?;
    m.add_function(wrap_pyfunction!(burn_nogil, m)?)?;
    m.add_function(wrap_pyfunction!(_thread_state_attached, m)?)?;
    Ok(())
}
