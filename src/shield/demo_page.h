#ifndef ARQ_SHIELD_DEMO_PAGE_H
#define ARQ_SHIELD_DEMO_PAGE_H

extern const char arq_demo_page[];
extern const unsigned long arq_demo_page_len;

#endif
