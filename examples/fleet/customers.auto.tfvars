customers = {
  acme    = { name = "Acme Corporation", region = "eu-west", plan = "enterprise", admin = "ops@acme.example.com" }
  globex  = { name = "Globex", region = "us-east", plan = "pro", admin = "it@globex.example.com" }
  initech = { name = "Initech", region = "us-west", plan = "starter", admin = "admin@initech.example.com" }
}
