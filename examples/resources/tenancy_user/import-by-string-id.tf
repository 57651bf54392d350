import {
  to = tenancy_user.alice
  id = "acme/usr_0123456789abcdef0123"
}
