# rnn.mk - read after an emitted model's own Makefile by bench/rnn.sh:
#   make -C DIR -f Makefile -f /abs/path/bench/rnn.mk NAME=model train_model
# builds bench/train_nn2c.c.in's driver with the CC, CFLAGS, OMP_FLAGS and
# LDLIBS the emitted Makefile uses for the model.
train_$(NAME): train_$(NAME).c $(NAME).o $(NAME).h
	$(CC) $(CFLAGS) $(OMP_FLAGS) train_$(NAME).c $(NAME).o -o $@ $(LDLIBS)
