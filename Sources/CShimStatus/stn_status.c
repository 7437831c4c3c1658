// The shims' shared status codes live in include/stn_status.h (header-only); SwiftPM needs one
// source file per C target.
#include "stn_status.h"
