int stn_png_placeholder(void) { return 0; }
