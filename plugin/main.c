/*
 * main.c: gcloud-gpu's entry point; everything else is in the ggplugin library so that
 * tests can link it.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
