/* replaced by the proto module */
int sr_proto_placeholder(void);
int sr_proto_placeholder(void) { return 0; }
