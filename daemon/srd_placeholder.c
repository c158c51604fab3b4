/* replaced by the daemon modules */
int srd_placeholder(void);
int srd_placeholder(void) { return 0; }
