// STNTensor: tensors, kernels' shared helpers, threading and counter-based randomness.
// It knows nothing of files, codecs or networks; everything else builds on it.
