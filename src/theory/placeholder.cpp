namespace varlearn {}
