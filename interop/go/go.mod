module sigil.dev/verify

go 1.19
