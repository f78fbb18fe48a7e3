"""Report the number of SQL statements a request ran in an `X-Bench-Queries` response header, when asked."""

from django.db import connection

REQUEST_HEADER = "X-Bench-Count-Queries"
RESPONSE_HEADER = "X-Bench-Queries"


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if REQUEST_HEADER not in request.headers:
            return self.get_response(request)
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        response[RESPONSE_HEADER] = str(len(statements))
        return response
