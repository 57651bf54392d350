package server

// promotionRoutes lists this area's routes; it is filled in as the area is built.
func (s *Server) promotionRoutes() []route { return nil }
