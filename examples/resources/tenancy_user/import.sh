# A user is imported by its tenant's slug and its user_id, "<tenant>/<user_id>",
terraform import tenancy_user.alice acme/usr_0123456789abcdef0123
# or by its tenant's slug and its e-mail address, "<tenant>/<email>".
terraform import tenancy_user.alice acme/alice@example.com
