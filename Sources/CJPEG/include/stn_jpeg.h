#ifndef STN_JPEG_H
#define STN_JPEG_H
/* JPEG decode/encode shim: placeholder, filled in by the image I/O work. */
int stn_jpeg_placeholder(void);
#endif
