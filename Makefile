# geqc: `make` builds the compiler and runtime; `make check` runs every test;
# `make demo` compiles an example and runs it. Both install missing Debian packages
# through scripts/install-deps first.
CC      ?= gcc
PY      := /usr/bin/python3
PREFIX  ?= /usr/local
B       := build
WARN    := -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
CFLAGS  ?= -O2 -g
BASE    := -std=c11 -D_GNU_SOURCE $(WARN) -Icompiler -Iruntime -I$(B)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PKGS    := openblas jansson libpng
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
PKGCF   := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CHECKLIBS := $(shell pkg-config --libs check 2>/dev/null)

COMPILER_SRC := compiler/main.c compiler/ast.c compiler/diag.c compiler/group.c \
                compiler/check.c compiler/lint.c compiler/emit_c.c compiler/emit_torch.c
RUNTIME_SRC  := runtime/d4.c runtime/filters.c runtime/ops.c runtime/load.c runtime/driver.c
GEN_SRC      := $(B)/parser.c $(B)/lexer.c

all: $(B)/geqc $(B)/libgeqrt.a

deps:
	@scripts/install-deps

$(B)/parser.c $(B)/parser.h: compiler/parser.y | $(B)
	bison -Wall -Werror --defines=$(B)/parser.h -o $(B)/parser.c $<
$(B)/lexer.c $(B)/lexer.h: compiler/lexer.l $(B)/parser.h | $(B)
	flex --header-file=$(B)/lexer.h -o $(B)/lexer.c $<

# Two builds of every object: plain (for users) and sanitized (for tests).
$(B)/o/%.o: %.c compiler/geqc.h compiler/ops.h runtime/geqrt.h $(B)/parser.h | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) $(CFLAGS) -c $< -o $@
$(B)/san/%.o: %.c compiler/geqc.h compiler/ops.h runtime/geqrt.h $(B)/parser.h | $(B)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(PKGCF) -O1 -g $(SAN) -c $< -o $@

# The lexer and parser are generated into build/ but compiled like the rest.
$(B)/o/$(B)/%.o $(B)/san/$(B)/%.o: $(B)/%.c
$(B)/o/gen/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h compiler/geqc.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(CFLAGS) -Wno-sign-compare -Wno-unused-function -c $< -o $@
$(B)/san/gen/%.o: $(B)/%.c $(B)/parser.h $(B)/lexer.h compiler/geqc.h
	@mkdir -p $(dir $@)
	$(CC) $(BASE) -O1 -g $(SAN) -Wno-sign-compare -Wno-unused-function -c $< -o $@

COMPILER_OBJ = $(COMPILER_SRC:%.c=$(1)/%.o) $(1)/gen/parser.o $(1)/gen/lexer.o $(1)/runtime/d4.o
RUNTIME_OBJ  = $(RUNTIME_SRC:%.c=$(1)/%.o)

$(B)/geqc: $(call COMPILER_OBJ,$(B)/o)
	$(CC) $(CFLAGS) -o $@ $^ -lm
$(B)/san/geqc: $(call COMPILER_OBJ,$(B)/san)
	$(CC) $(SAN) -o $@ $^ -lm
$(B)/libgeqrt.a: $(call RUNTIME_OBJ,$(B)/o)
	rm -f $@ && ar rcs $@ $^
$(B)/san/libgeqrt.a: $(call RUNTIME_OBJ,$(B)/san)
	rm -f $@ && ar rcs $@ $^

$(B):
	@mkdir -p $(B)

clean:
	rm -rf $(B)

.PHONY: all deps clean check demo bench install paper
.DELETE_ON_ERROR:
