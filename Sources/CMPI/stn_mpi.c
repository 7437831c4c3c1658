#define _GNU_SOURCE
#include "CMPI.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// MARK: - Open MPI's ABI, without mpi.h

/* Every MPI handle (MPI_Comm, MPI_Datatype, MPI_Op, MPI_Errhandler) is a pointer to an Open MPI
   struct; mpi.h's MPI_COMM_WORLD is `(MPI_Comm) &ompi_mpi_comm_world`, so the address dlsym
   returns for that data symbol is the handle itself. */
typedef void *mpi_handle;

/* mpi.h: #define MPI_IN_PLACE ((void *) 1), MPI_SUCCESS 0, MPI_THREAD_SERIALIZED 2,
   MPI_MAX_ERROR_STRING / MPI_MAX_PROCESSOR_NAME / MPI_MAX_LIBRARY_VERSION_STRING 256. */
#define OMPI_IN_PLACE ((void *)1)
#define OMPI_SUCCESS 0
#define OMPI_THREAD_SERIALIZED 2
#define OMPI_MAX_STRING 256

/* The largest element count sent in one MPI call (MPI counts are int). */
#define MAX_PIECE (1 << 30)

static struct {
  int (*init_thread)(int *, char ***, int, int *);
  int (*initialized)(int *);
  int (*finalized)(int *);
  int (*finalize)(void);
  int (*comm_rank)(mpi_handle, int *);
  int (*comm_size)(mpi_handle, int *);
  int (*comm_set_errhandler)(mpi_handle, mpi_handle);
  int (*allreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle);
  int (*bcast)(void *, int, mpi_handle, int, mpi_handle);
  int (*gatherv)(const void *, int, mpi_handle, void *, const int *, const int *, mpi_handle, int,
                 mpi_handle);
  int (*barrier)(mpi_handle);
  int (*abort)(mpi_handle, int);
  double (*wtime)(void);
  int (*get_processor_name)(char *, int *);
  int (*get_library_version)(char *, int *);
  int (*error_string)(int, char *, int *);
  mpi_handle comm_world;
  mpi_handle errors_return;
  mpi_handle types[4]; /* indexed by stn_mpi_type */
  mpi_handle ops[3];   /* indexed by stn_mpi_op */
} mpi;

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static void *library_handle = NULL;
static int world_size = 0;
static int world_rank = 0;
/* MPI_Gatherv's int counts and offsets, one per rank (allocated once, at init). */
static int *gather_counts = NULL, *gather_offsets = NULL;
static int initialized_here = 0;
static volatile int skip_finalize = 0;

// MARK: - Messages

static void say(char *message, size_t capacity, const char *format, ...) {
  if (message == NULL || capacity == 0) return;
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(message, capacity, format, arguments);
  va_end(arguments);
}

/* Turns an MPI return code into a status and "MPI_Xxx failed: <MPI's words> (error N)". */
static int check(int code, const char *call, char *message, size_t capacity) {
  if (code == OMPI_SUCCESS) return STN_MPI_OK;
  char reason[OMPI_MAX_STRING + 1] = "unknown error";
  int length = 0;
  if (mpi.error_string != NULL && mpi.error_string(code, reason, &length) == OMPI_SUCCESS) {
    reason[length < OMPI_MAX_STRING ? length : OMPI_MAX_STRING] = '\0';
  }
  say(message, capacity, "%s failed: %s (MPI error %d)", call, reason, code);
  return STN_MPI_CALL_FAILED;
}

static int require_initialized(const char *call, char *message, size_t capacity) {
  if (initialized_here && mpi.finalized != NULL) {
    int done = 0;
    if (mpi.finalized(&done) == OMPI_SUCCESS && !done) return STN_MPI_OK;
  }
  say(message, capacity, "%s: MPI is not initialized (or already finalized)", call);
  return STN_MPI_INVALID;
}

// MARK: - Loading

static int resolve(void **slot, const char *name, const char *library, char *message,
                   size_t capacity) {
  *slot = dlsym(library_handle, name);
  if (*slot != NULL) return STN_MPI_OK;
  say(message, capacity, "%s has no symbol %s: it is not Open MPI 3.x-5.x (libmpi.so.40)", library,
      name);
  return STN_MPI_MISSING_SYMBOL;
}

int stn_mpi_load(const char *library, char *message, size_t capacity) {
  pthread_mutex_lock(&state_lock);
  int status = STN_MPI_OK;
  if (library_handle != NULL) goto done;
  library_handle = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
  if (library_handle == NULL) {
    const char *reason = dlerror();
    say(message, capacity, "%s", reason != NULL ? reason : "dlopen failed");
    status = STN_MPI_NOT_LOADED;
    goto done;
  }
  struct {
    void **slot;
    const char *name;
  } symbols[] = {
      {(void **)&mpi.init_thread, "MPI_Init_thread"},
      {(void **)&mpi.initialized, "MPI_Initialized"},
      {(void **)&mpi.finalized, "MPI_Finalized"},
      {(void **)&mpi.finalize, "MPI_Finalize"},
      {(void **)&mpi.comm_rank, "MPI_Comm_rank"},
      {(void **)&mpi.comm_size, "MPI_Comm_size"},
      {(void **)&mpi.comm_set_errhandler, "MPI_Comm_set_errhandler"},
      {(void **)&mpi.allreduce, "MPI_Allreduce"},
      {(void **)&mpi.bcast, "MPI_Bcast"},
      {(void **)&mpi.gatherv, "MPI_Gatherv"},
      {(void **)&mpi.barrier, "MPI_Barrier"},
      {(void **)&mpi.abort, "MPI_Abort"},
      {(void **)&mpi.wtime, "MPI_Wtime"},
      {(void **)&mpi.get_processor_name, "MPI_Get_processor_name"},
      {(void **)&mpi.get_library_version, "MPI_Get_library_version"},
      {(void **)&mpi.error_string, "MPI_Error_string"},
      {&mpi.comm_world, "ompi_mpi_comm_world"},
      {&mpi.errors_return, "ompi_mpi_errors_return"},
      {&mpi.types[STN_MPI_FLOAT32], "ompi_mpi_float"},
      {&mpi.types[STN_MPI_FLOAT64], "ompi_mpi_double"},
      {&mpi.types[STN_MPI_INT64], "ompi_mpi_int64_t"},
      {&mpi.types[STN_MPI_BYTE], "ompi_mpi_byte"},
      {&mpi.ops[STN_MPI_SUM], "ompi_mpi_op_sum"},
      {&mpi.ops[STN_MPI_MAX], "ompi_mpi_op_max"},
      {&mpi.ops[STN_MPI_MIN], "ompi_mpi_op_min"},
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    status = resolve(symbols[i].slot, symbols[i].name, library, message, capacity);
    if (status != STN_MPI_OK) {
      dlclose(library_handle);
      library_handle = NULL;
      memset(&mpi, 0, sizeof mpi);
      goto done;
    }
  }
done:
  pthread_mutex_unlock(&state_lock);
  return status;
}

// MARK: - Start and end

static void finalize_at_exit(void) {
  if (skip_finalize) return;
  stn_mpi_finalize(NULL, 0);
}

int stn_mpi_init(int *rank, int *size, int *provided, char *message, size_t capacity) {
  if (library_handle == NULL) {
    say(message, capacity, "MPI_Init_thread: the MPI library is not loaded");
    return STN_MPI_INVALID;
  }
  int already = 0;
  int status = check(mpi.initialized(&already), "MPI_Initialized", message, capacity);
  if (status != STN_MPI_OK) return status;
  if (!already) {
    status = check(mpi.init_thread(NULL, NULL, OMPI_THREAD_SERIALIZED, provided),
                   "MPI_Init_thread", message, capacity);
    if (status != STN_MPI_OK) return status;
    initialized_here = 1;
    atexit(finalize_at_exit);
  }
  /* Errors come back as codes (the default handler would abort the job without a word). */
  status = check(mpi.comm_set_errhandler(mpi.comm_world, mpi.errors_return),
                 "MPI_Comm_set_errhandler", message, capacity);
  if (status == STN_MPI_OK) status = check(mpi.comm_rank(mpi.comm_world, rank), "MPI_Comm_rank", message, capacity);
  if (status == STN_MPI_OK) status = check(mpi.comm_size(mpi.comm_world, size), "MPI_Comm_size", message, capacity);
  if (status == STN_MPI_OK && world_size == 0) {
    gather_counts = calloc((size_t)*size, sizeof(int));
    gather_offsets = calloc((size_t)*size, sizeof(int));
    if (gather_counts == NULL || gather_offsets == NULL) {
      say(message, capacity, "out of memory for %d ranks", *size);
      return STN_MPI_INVALID;
    }
    world_size = *size;
    world_rank = *rank;
  }
  return status;
}

void stn_mpi_skip_finalize(void) { skip_finalize = 1; }

int stn_mpi_finalize(char *message, size_t capacity) {
  if (!initialized_here || mpi.finalized == NULL) return STN_MPI_OK;
  int done = 0;
  if (mpi.finalized(&done) != OMPI_SUCCESS || done) return STN_MPI_OK;
  return check(mpi.finalize(), "MPI_Finalize", message, capacity);
}

void stn_mpi_abort(int code) {
  if (initialized_here && mpi.abort != NULL) mpi.abort(mpi.comm_world, code);
  _exit(code);
}

// MARK: - Collectives

static int valid_type(stn_mpi_type type) { return type >= STN_MPI_FLOAT32 && type <= STN_MPI_BYTE; }

static size_t type_size(stn_mpi_type type) {
  switch (type) {
  case STN_MPI_FLOAT32: return 4;
  case STN_MPI_FLOAT64: return 8;
  case STN_MPI_INT64: return 8;
  case STN_MPI_BYTE: return 1;
  }
  return 1;
}

int stn_mpi_allreduce(void *buffer, int64_t count, stn_mpi_type type, stn_mpi_op op,
                      char *message, size_t capacity) {
  int status = require_initialized("MPI_Allreduce", message, capacity);
  if (status != STN_MPI_OK) return status;
  if (!valid_type(type) || type == STN_MPI_BYTE || op < STN_MPI_SUM || op > STN_MPI_MIN || count < 0) {
    say(message, capacity, "MPI_Allreduce: invalid element type, operation or count");
    return STN_MPI_INVALID;
  }
  char *bytes = buffer;
  for (int64_t start = 0; start < count && status == STN_MPI_OK; start += MAX_PIECE) {
    int piece = (int)(count - start < MAX_PIECE ? count - start : MAX_PIECE);
    status = check(mpi.allreduce(OMPI_IN_PLACE, bytes + start * (int64_t)type_size(type), piece,
                                 mpi.types[type], mpi.ops[op], mpi.comm_world),
                   "MPI_Allreduce", message, capacity);
  }
  return status;
}

int stn_mpi_broadcast(void *buffer, int64_t count, stn_mpi_type type, int root,
                      char *message, size_t capacity) {
  int status = require_initialized("MPI_Bcast", message, capacity);
  if (status != STN_MPI_OK) return status;
  if (!valid_type(type) || count < 0 || root < 0 || root >= world_size) {
    say(message, capacity, "MPI_Bcast: invalid element type, count or root %d (world size %d)", root, world_size);
    return STN_MPI_INVALID;
  }
  char *bytes = buffer;
  for (int64_t start = 0; start < count && status == STN_MPI_OK; start += MAX_PIECE) {
    int piece = (int)(count - start < MAX_PIECE ? count - start : MAX_PIECE);
    status = check(mpi.bcast(bytes + start * (int64_t)type_size(type), piece, mpi.types[type], root,
                             mpi.comm_world),
                   "MPI_Bcast", message, capacity);
  }
  return status;
}

int stn_mpi_gather_bytes(const void *bytes, const int64_t *counts, void *received, int root,
                         char *message, size_t capacity) {
  int status = require_initialized("MPI_Gatherv", message, capacity);
  if (status != STN_MPI_OK) return status;
  /* NOTE: every rank sees the same counts, so every rank reaches the same verdict here; a check
     that failed on the root alone would leave the others waiting in MPI_Gatherv forever. */
  int64_t offset = 0;
  for (int i = 0; i < world_size; i++) {
    if (counts[i] < 0 || offset + counts[i] > INT_MAX) {
      say(message, capacity, "MPI_Gatherv: %lld bytes in all exceed MPI's int counts (at most %d)",
          (long long)(offset + counts[i]), INT_MAX);
      return STN_MPI_INVALID;
    }
    gather_counts[i] = (int)counts[i];
    gather_offsets[i] = (int)offset;
    offset += counts[i];
  }
  if (root < 0 || root >= world_size) {
    say(message, capacity, "MPI_Gatherv: invalid root %d (world size %d)", root, world_size);
    return STN_MPI_INVALID;
  }
  return check(mpi.gatherv(bytes, gather_counts[world_rank], mpi.types[STN_MPI_BYTE], received,
                           gather_counts, gather_offsets, mpi.types[STN_MPI_BYTE], root,
                           mpi.comm_world),
               "MPI_Gatherv", message, capacity);
}

int stn_mpi_barrier(char *message, size_t capacity) {
  int status = require_initialized("MPI_Barrier", message, capacity);
  if (status != STN_MPI_OK) return status;
  return check(mpi.barrier(mpi.comm_world), "MPI_Barrier", message, capacity);
}

// MARK: - Information

double stn_mpi_wtime(void) {
  if (require_initialized("MPI_Wtime", NULL, 0) != STN_MPI_OK) return 0;
  return mpi.wtime();
}

int stn_mpi_processor_name(char *name, size_t capacity, char *message, size_t capacity2) {
  int status = require_initialized("MPI_Get_processor_name", message, capacity2);
  if (status != STN_MPI_OK) return status;
  char buffer[OMPI_MAX_STRING + 1] = "";
  int length = 0;
  status = check(mpi.get_processor_name(buffer, &length), "MPI_Get_processor_name", message, capacity2);
  if (status == STN_MPI_OK) {
    buffer[length >= 0 && length < OMPI_MAX_STRING ? length : OMPI_MAX_STRING] = '\0';
    say(name, capacity, "%s", buffer);
  }
  return status;
}

void stn_mpi_library_version(char *text, size_t capacity) {
  say(text, capacity, "%s", "");
  if (library_handle == NULL) return;
  char buffer[OMPI_MAX_STRING + 1] = "";
  int length = 0;
  if (mpi.get_library_version(buffer, &length) != OMPI_SUCCESS) return;
  buffer[length >= 0 && length < OMPI_MAX_STRING ? length : OMPI_MAX_STRING] = '\0';
  buffer[strcspn(buffer, "\n")] = '\0';
  say(text, capacity, "%s", buffer);
}
