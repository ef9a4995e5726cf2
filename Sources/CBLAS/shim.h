// The one C header bpfree reads for linear algebra: OpenBLAS's CBLAS interface, which also
// declares openblas_set_num_threads, openblas_get_config and openblas_get_corename.
#include <cblas.h>
