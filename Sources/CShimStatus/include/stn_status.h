#ifndef STN_STATUS_H
#define STN_STATUS_H
/* What every C shim returns: a status code and a message, since libjpeg and libpng report errors
 * by longjmp, which must never cross into Swift. Swift maps the codes to ImageError kinds. */

#include <stdio.h>

enum {
  STN_OK = 0,
  STN_ERR_TRUNCATED = 1,   /* data ends early */
  STN_ERR_CORRUPT = 2,     /* damaged or inconsistent data */
  STN_ERR_UNSUPPORTED = 3, /* not this format, or a variant we do not read */
  STN_ERR_TOO_LARGE = 4,   /* over the pixel/size limit */
  STN_ERR_NOMEM = 5,       /* allocation failed */
  STN_ERR_INVALID = 6,     /* bad argument from the caller */
};

/* Size of every shim's message buffer, terminator included. */
#define STN_MESSAGE_SIZE 200

static inline void stn_set_message(char *message, const char *text) {
  snprintf(message, STN_MESSAGE_SIZE, "%s", text);
}

/* Sets `message` to `text` and returns `status` from the calling function. */
#define STN_FAIL(message, status, text) \
  do {                                  \
    stn_set_message((message), (text)); \
    return (status);                    \
  } while (0)

#endif
