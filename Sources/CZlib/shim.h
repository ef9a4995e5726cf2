// zlib, for reading gzip'd dataset files.
#include <zlib.h>
