// The one C header bpfree reads for convolutions: oneDNN's C API (Debian's libdnnl-dev 2.x,
// built on OpenMP), and the OpenMP call that sets the number of threads its kernels use.
#include <oneapi/dnnl/dnnl.h>

void omp_set_num_threads(int num_threads);
