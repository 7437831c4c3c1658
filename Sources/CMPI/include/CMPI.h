#ifndef STN_CMPI_H
#define STN_CMPI_H

/// Open MPI, loaded at run time with dlopen.
///
/// Why dlopen and not a link: `stn` is one binary that must start on machines without Open MPI.
/// It loads libmpi only when an MPI launcher started it (STNDistributed decides), so a plain
/// `stn ...` never touches MPI. Why a C shim at all: MPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
/// MPI_SUM, ...) are macros over the addresses of Open MPI's predefined objects, which Swift
/// cannot import; here they are looked up with dlsym by the names Open MPI's mpi.h uses
/// (`ompi_mpi_comm_world`, `ompi_mpi_float`, `ompi_mpi_op_sum`, ...), so no mpi.h is needed to
/// build, and -lmpi is not linked. This ties the shim to Open MPI's ABI (libmpi.so.40: Open
/// MPI 3.x to 5.x), the MPI that Debian and most clusters ship.
///
/// Every call returns a status (STN_MPI_OK or an error) and, on error, writes a one-line
/// message naming the MPI call and its reason into `message` (`capacity` bytes, NUL-terminated).
/// Nothing here aborts or prints. Counts are 64-bit; buffers larger than MPI's int counts are
/// sent in pieces. Calls are not thread-safe by themselves: the Swift caller serializes them
/// (MPI is initialized with MPI_THREAD_SERIALIZED).

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes (MPI's own error codes are reported as STN_MPI_CALL_FAILED plus its message).
enum {
  STN_MPI_OK = 0,
  /// dlopen failed (the library is not installed or not on the loader's path).
  STN_MPI_NOT_LOADED = 1,
  /// The library loaded but lacks a function or predefined handle (not Open MPI, or too old).
  STN_MPI_MISSING_SYMBOL = 2,
  /// An MPI function returned an error.
  STN_MPI_CALL_FAILED = 3,
  /// A call before stn_mpi_init, after finalize, or with an invalid argument.
  STN_MPI_INVALID = 4,
};

/// Element types of reductions and broadcasts.
typedef enum { STN_MPI_FLOAT32 = 0, STN_MPI_FLOAT64 = 1, STN_MPI_INT64 = 2, STN_MPI_BYTE = 3 } stn_mpi_type;

/// Reduction operations.
typedef enum { STN_MPI_SUM = 0, STN_MPI_MAX = 1, STN_MPI_MIN = 2 } stn_mpi_op;

/// Loads `library` (e.g. "libmpi.so.40") with RTLD_NOW | RTLD_GLOBAL (Open MPI's plugins need
/// libmpi's symbols) and resolves every function and handle. Loading twice is a no-op.
int stn_mpi_load(const char *library, char *message, size_t capacity);

/// MPI_Init_thread(MPI_THREAD_SERIALIZED), errors returned (not fatal) on MPI_COMM_WORLD, and
/// MPI_Finalize registered with atexit. Writes this process's rank, the world size and the
/// thread level MPI provides (0 single, 1 funneled, 2 serialized, 3 multiple).
int stn_mpi_init(int *rank, int *size, int *provided, char *message, size_t capacity);

/// In-place MPI_Allreduce over MPI_COMM_WORLD of `count` elements.
int stn_mpi_allreduce(void *buffer, int64_t count, stn_mpi_type type, stn_mpi_op op,
                      char *message, size_t capacity);

/// MPI_Bcast of `count` elements from `root`.
int stn_mpi_broadcast(void *buffer, int64_t count, stn_mpi_type type, int root,
                      char *message, size_t capacity);

/// MPI_Gatherv of bytes to `root`. `counts` holds every rank's byte count (the same array on
/// every rank, e.g. from an allreduce); this rank sends counts[its rank] bytes from `bytes`; the
/// root receives them in rank order, back to back, in `received` (sum of counts bytes; used on
/// the root only). The total must fit MPI's int.
int stn_mpi_gather_bytes(const void *bytes, const int64_t *counts, void *received, int root,
                         char *message, size_t capacity);

/// MPI_Barrier on MPI_COMM_WORLD.
int stn_mpi_barrier(char *message, size_t capacity);

/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job. Falls back to _exit(code)
/// should MPI_Abort return (or MPI not be initialized).
__attribute__((noreturn)) void stn_mpi_abort(int code);

/// Keeps the atexit handler from calling MPI_Finalize (for exits while other ranks may be
/// inside a collective: MPI_Finalize would wait for them).
void stn_mpi_skip_finalize(void);

/// MPI_Finalize now (idempotent; the atexit handler does it otherwise).
int stn_mpi_finalize(char *message, size_t capacity);

/// MPI_Wtime (seconds), or 0 when MPI is not initialized.
double stn_mpi_wtime(void);

/// MPI_Get_processor_name into `name` (`capacity` bytes).
int stn_mpi_processor_name(char *name, size_t capacity, char *message, size_t capacity2);

/// MPI_Get_library_version's first line (e.g. "Open MPI v4.1.4, ..."), or "" when unknown.
void stn_mpi_library_version(char *text, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
