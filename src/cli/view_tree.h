/*
 * view_tree.h - `ctrace view` over a process tree (view_tree.c): `ctrace
 * view FILE FILE.*`, or `ctrace view --tree FILE`.
 */
#ifndef CT_VIEW_TREE_H
#define CT_VIEW_TREE_H

/* Runs the view over the tree that argv names; its exit status. */
int ct_view_tree_run(int argc, char **argv);

#endif
