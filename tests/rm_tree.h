/* rm_tree.h - removes a file or a directory tree (the temporary cache directories of the CUDA
   tests and benchmarks). POSIX; include after <dirent.h>, <sys/stat.h>, <unistd.h>, <string.h>
   and <stdio.h>, with _POSIX_C_SOURCE >= 200809L. */
#ifndef BNBQ_TESTS_RM_TREE_H
#define BNBQ_TESTS_RM_TREE_H

static void rm_tree(const char* path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR* d = opendir(path);
        struct dirent* e;
        if (d) {
            while ((e = readdir(d)) != NULL) {
                char sub[1200];
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

#endif
