// nanobind's own library, compiled into fastfib._nanobind. nanobind's build is CMake,
// which compiles these sources as a library beside each module; setup.py builds the
// module with setuptools instead, so this one file stands for that library: nanobind
// ships nb_combined.cpp (which includes all of its sources) for other build systems,
// and setup.py puts nanobind's src/ on the include path.
#include "nb_combined.cpp"
