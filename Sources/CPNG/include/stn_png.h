#ifndef STN_PNG_H
#define STN_PNG_H
/* PNG decode/encode shim: placeholder, filled in by the image I/O work. */
int stn_png_placeholder(void);
#endif
