# harness.mk - read after an emitted model's own Makefile by bench/run.sh:
#   make -C DIR -f Makefile -f /abs/path/bench/harness.mk NAME=model infer_model
# so the latency harness is built with exactly the CC, CFLAGS, OMP_FLAGS (when
# the model uses OpenMP) and LDLIBS the emitted Makefile uses for the model.
infer_$(NAME): infer_$(NAME).c $(NAME).o $(NAME).h
	$(CC) $(CFLAGS) $(OMP_FLAGS) infer_$(NAME).c $(NAME).o -o $@ $(LDLIBS)

# `make -s -f Makefile -f harness.mk print-flags`: what the Makefile adds to
# CFLAGS for the model code (FMA contraction, errno-free math, OpenMP).
print-flags:
	@echo $(MODEL_FLAGS) $(OMP_FLAGS)
