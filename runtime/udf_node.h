/* runtime/udf_node.h — cordon-node's modes. */
#ifndef RT_UDF_NODE_H
#define RT_UDF_NODE_H

/* Exit status of cordon-node when a sandbox limit ended the UDF. */
#define RT_NODE_EXIT_LIMIT 3

/* `cordon-node udf ...` (argv[0] = "udf"). Returns the exit status. */
int rt_node_udf_main(int argc, char **argv);

#endif
