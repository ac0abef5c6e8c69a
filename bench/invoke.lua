-- wrk script: POST a qualification invoke with a realistic lead.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SA_BENCH_KEY") or "")
wrk.body = [[{"agent_type":"qualification","input":{"company_name":"Acme Cloud","industry":"SaaS","company_size":"201-500","annual_revenue":"$40M","website":"https://acmecloud.io","country":"US","contact_info":{"name":"Jane Doe","title":"VP of Sales","email":"jane@acmecloud.io","phone":"+1 415 555 0100","linkedin_url":"https://www.linkedin.com/in/jane-doe"},"signals":["requested_demo","pricing_page_visit"],"notes":"Met at SaaStr; evaluating vendors for Q3."}}]]
