-- wrk script: POST the four-agent pipeline for a lead the reference dataset knows.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("SA_BENCH_KEY") or "")
wrk.body = [[{"agent_type":"pipeline","input":{"company_name":"Quorvianta Software","industry":"SaaS","company_size":"201-500","annual_revenue":"$42M","website":"https://www.quorvianta.io","country":"US","contact_info":{"name":"Maya Okafor","title":"VP of Sales","email":"maya.okafor@quorvianta.io","phone":"+1 415 555 0132"},"signals":["requested_demo","pricing_page_visit","hiring_sales"]}}]]
