/* sipedgectl: admin CLI (being written). */
int main(void) { return 0; }
