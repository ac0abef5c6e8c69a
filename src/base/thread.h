/* Threads that nobody joins. */
#ifndef SA_BASE_THREAD_H
#define SA_BASE_THREAD_H

/* Starts fn(arg) on a detached thread; 0 or pthread_create's error number. */
int sa_thread_detached(void *(*fn)(void *), void *arg);

#endif
