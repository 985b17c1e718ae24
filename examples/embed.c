/* Embeds the model of examples/paper28.geq in a C program (see README, "Embedding"):
 *   geqc --emit=c -o paper28.c examples/paper28.geq
 *   cc embed.c paper28.c $(pkg-config --cflags --libs geqrt) -o embed
 *   ./embed weights.safetensors */
#include <stdio.h>
#include "paper28.h"

int main(int argc, char **argv)
{
	char err[512];
	paper28_net *net = paper28_new();
	if (argc != 2 || !net || paper28_load(net, argv[1], err, sizeof err)) {
		fprintf(stderr, "%s\n", argc != 2 ? "usage: embed W.safetensors" : err);
		return 2;
	}
	static float x[PAPER28_IN_SIZE], y[PAPER28_OUT_SIZE]; /* one image, its class scores */
	for (int i = 0; i < PAPER28_IN_SIZE; i++)
		x[i] = (float)(i % 28 > 10 && i % 28 < 18); /* a vertical bar */
	paper28_forward(net, x, 1, y);
	for (int c = 0; c < PAPER28_OUT_SIZE; c++)
		printf("class %d: %.4f\n", c, y[c]);
	paper28_free(net);
	return 0;
}
