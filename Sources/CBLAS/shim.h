// The one C header bpfree reads for linear algebra: OpenBLAS's CBLAS interface, which also
// declares openblas_set_num_threads, openblas_get_config and openblas_get_corename.
#include <cblas.h>

// LAPACK routines OpenBLAS exports (Fortran interface, column-major, trailing string lengths):
// Cholesky factorisation and solve, and the symmetric eigensolver for the pseudo-inverse.
#include <stddef.h>
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
             float *b, const int *ldb, int *info, size_t uplo_len);
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);
