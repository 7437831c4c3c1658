int stn_jpeg_placeholder(void) { return 0; }
