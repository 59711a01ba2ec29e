/* The model blob in flash, straight from the .fgkd file (BLOB_PATH, set by build.sh).
 * frameless_load takes any alignment; 16 matches the Rust firmware, so the
 * instruction counts compare like for like. */
    .section .rodata.frameless_blob, "a"
    .balign 16
    .global frameless_blob
frameless_blob:
    .incbin BLOB_PATH
    .global frameless_blob_end
frameless_blob_end:
    /* No executable stack wanted. */
    .section .note.GNU-stack, "", %progbits
